/*
 * hearth-jxl-verify FILE.jxl ORIGINAL.jpg
 *
 * Reconstructs the JPEG a JPEG XL file holds, with libjxl's own decoder, and compares it
 * byte for byte with ORIGINAL. Exit 0: identical; 1: different (or nothing to
 * reconstruct); 2: usage or I/O error.
 *
 * Why not `djxl FILE.jxl out.jpg`: djxl up to libjxl 0.8 starts with a 16 KiB output
 * buffer, and each JXL_DEC_JPEG_NEED_MORE_OUTPUT makes the decoder redo the whole
 * reconstruction into a buffer twice as large (libjxl PR #2534, fixed in 0.9; Debian 12
 * ships 0.7). Here the buffer starts at the original's size plus slack, which is the
 * right size for every file that verifies, so the work is done once. It also compares in
 * memory instead of writing a temp file and reading it back.
 */
#include <jxl/decode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_file(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return -1; }
  long n = ftell(f);
  if (n < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return -1; }
  *data = malloc(n > 0 ? (size_t)n : 1);
  if (!*data) { fclose(f); return -1; }
  if (n > 0 && fread(*data, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(*data); return -1; }
  fclose(f);
  *size = (size_t)n;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: hearth-jxl-verify FILE.jxl ORIGINAL.jpg\n");
    return 2;
  }
  uint8_t *jxl, *orig;
  size_t jxl_size, orig_size;
  if (read_file(argv[1], &jxl, &jxl_size) != 0) { perror(argv[1]); return 2; }
  if (read_file(argv[2], &orig, &orig_size) != 0) { perror(argv[2]); return 2; }

  JxlDecoder *dec = JxlDecoderCreate(NULL);
  if (!dec) { fprintf(stderr, "cannot create a decoder\n"); return 2; }
  if (JxlDecoderSubscribeEvents(dec, JXL_DEC_JPEG_RECONSTRUCTION | JXL_DEC_FULL_IMAGE) != JXL_DEC_SUCCESS) {
    fprintf(stderr, "cannot subscribe to decoder events\n");
    return 2;
  }
  JxlDecoderSetInput(dec, jxl, jxl_size);
  JxlDecoderCloseInput(dec);

  size_t cap = orig_size + 65536, used = 0;
  uint8_t *out = malloc(cap);
  if (!out) { fprintf(stderr, "out of memory\n"); return 2; }
  int have_jpeg = 0, rc = 1;
  for (;;) {
    JxlDecoderStatus st = JxlDecoderProcessInput(dec);
    if (st == JXL_DEC_JPEG_RECONSTRUCTION) {
      have_jpeg = 1;
      JxlDecoderSetJPEGBuffer(dec, out, cap);
    } else if (st == JXL_DEC_JPEG_NEED_MORE_OUTPUT) {
      /* Only for a file larger than its supposed original: grow and go on, as djxl does. */
      size_t left = JxlDecoderReleaseJPEGBuffer(dec);
      used = cap - left;
      uint8_t *bigger = realloc(out, cap * 2);
      if (!bigger) { fprintf(stderr, "out of memory\n"); rc = 2; break; }
      out = bigger;
      cap *= 2;
      JxlDecoderSetJPEGBuffer(dec, out + used, cap - used);
    } else if (st == JXL_DEC_NEED_IMAGE_OUT_BUFFER) {
      /* Asked for pixels: the file holds no JPEG reconstruction data. */
      fprintf(stderr, "%s: no JPEG reconstruction data\n", argv[1]);
      break;
    } else if (st == JXL_DEC_FULL_IMAGE) {
      if (!have_jpeg) { fprintf(stderr, "%s: no JPEG reconstruction data\n", argv[1]); break; }
      size_t left = JxlDecoderReleaseJPEGBuffer(dec);
      used = cap - left;
      if (used == orig_size && memcmp(out, orig, orig_size) == 0) {
        rc = 0;
      } else if (used != orig_size) {
        fprintf(stderr, "%s: reconstructs %zu bytes, the original has %zu\n", argv[1], used, orig_size);
      } else {
        size_t i = 0;
        while (i < used && out[i] == orig[i]) i++;
        fprintf(stderr, "%s: reconstruction differs from the original at byte %zu\n", argv[1], i);
      }
      break;
    } else if (st == JXL_DEC_SUCCESS || st == JXL_DEC_NEED_MORE_INPUT) {
      fprintf(stderr, "%s: ended before a full image\n", argv[1]);
      break;
    } else {
      fprintf(stderr, "%s: not a valid JPEG XL file (decoder status %d)\n", argv[1], (int)st);
      break;
    }
  }
  JxlDecoderDestroy(dec);
  free(out);
  free(jxl);
  free(orig);
  return rc;
}
