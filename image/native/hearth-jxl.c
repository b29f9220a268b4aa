/*
 * hearth-jxl verify FILE.jxl ORIGINAL.jpg
 *   Reconstructs the JPEG a JPEG XL file holds, with libjxl's own decoder, and compares
 *   it byte for byte with ORIGINAL. Exit 0: identical; 1: different, or nothing to
 *   reconstruct; 2: usage or I/O error.
 * hearth-jxl reconstruct FILE.jxl
 *   Writes the reconstructed JPEG to stdout. Exit 0, or 1 with a message.
 *
 * Why not djxl: djxl up to libjxl 0.8 starts with a 16 KiB output buffer, and each
 * JXL_DEC_JPEG_NEED_MORE_OUTPUT makes the decoder redo the whole reconstruction into a
 * buffer twice as large (libjxl PR #2534, fixed in 0.9; Debian 12 ships 0.7). Here the
 * buffer starts at the original's size (verify) or twice the .jxl's (reconstruct: JPEG
 * XL saves ~20 %), so the work is done once. Verify also compares in memory instead of
 * writing a temp file and reading it back.
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

/* The JPEG `jxl` holds, into *out (malloc'd), starting from a buffer of `cap` bytes. 0 on success. */
static int reconstruct(const char *name, const uint8_t *jxl, size_t jxl_size, size_t cap, uint8_t **out, size_t *out_size) {
  JxlDecoder *dec = JxlDecoderCreate(NULL);
  if (!dec) { fprintf(stderr, "cannot create a decoder\n"); return -1; }
  int rc = -1, have_jpeg = 0;
  size_t used = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) { fprintf(stderr, "out of memory\n"); JxlDecoderDestroy(dec); return -1; }
  if (JxlDecoderSubscribeEvents(dec, JXL_DEC_JPEG_RECONSTRUCTION | JXL_DEC_FULL_IMAGE) != JXL_DEC_SUCCESS) {
    fprintf(stderr, "cannot subscribe to decoder events\n");
    goto done;
  }
  JxlDecoderSetInput(dec, jxl, jxl_size);
  JxlDecoderCloseInput(dec);
  for (;;) {
    JxlDecoderStatus st = JxlDecoderProcessInput(dec);
    if (st == JXL_DEC_JPEG_RECONSTRUCTION) {
      have_jpeg = 1;
      JxlDecoderSetJPEGBuffer(dec, buf, cap);
    } else if (st == JXL_DEC_JPEG_NEED_MORE_OUTPUT) {
      /* The first guess was short: grow and go on, as djxl does. */
      used = cap - JxlDecoderReleaseJPEGBuffer(dec);
      uint8_t *bigger = realloc(buf, cap * 2);
      if (!bigger) { fprintf(stderr, "out of memory\n"); goto done; }
      buf = bigger;
      cap *= 2;
      JxlDecoderSetJPEGBuffer(dec, buf + used, cap - used);
    } else if (st == JXL_DEC_FULL_IMAGE) {
      if (!have_jpeg) break;
      *out_size = cap - JxlDecoderReleaseJPEGBuffer(dec);
      *out = buf;
      buf = NULL;
      rc = 0;
      goto done;
    } else if (st == JXL_DEC_NEED_IMAGE_OUT_BUFFER) {
      break; /* asked for pixels: no JPEG reconstruction data */
    } else if (st == JXL_DEC_SUCCESS || st == JXL_DEC_NEED_MORE_INPUT) {
      fprintf(stderr, "%s: ended before a full image\n", name);
      goto done;
    } else {
      fprintf(stderr, "%s: not a valid JPEG XL file (decoder status %d)\n", name, (int)st);
      goto done;
    }
  }
  fprintf(stderr, "%s: no JPEG reconstruction data\n", name);
done:
  JxlDecoderDestroy(dec);
  free(buf);
  return rc;
}

static int usage(void) {
  fprintf(stderr, "usage: hearth-jxl verify FILE.jxl ORIGINAL.jpg\n       hearth-jxl reconstruct FILE.jxl > ORIGINAL.jpg\n");
  return 2;
}

int main(int argc, char **argv) {
  uint8_t *jxl, *orig, *out;
  size_t jxl_size, orig_size, out_size;
  if (argc == 4 && strcmp(argv[1], "verify") == 0) {
    if (read_file(argv[2], &jxl, &jxl_size) != 0) { perror(argv[2]); return 2; }
    if (read_file(argv[3], &orig, &orig_size) != 0) { perror(argv[3]); return 2; }
    if (reconstruct(argv[2], jxl, jxl_size, orig_size + 65536, &out, &out_size) != 0) return 1;
    if (out_size != orig_size) {
      fprintf(stderr, "%s: reconstructs %zu bytes, the original has %zu\n", argv[2], out_size, orig_size);
      return 1;
    }
    if (memcmp(out, orig, orig_size) != 0) {
      size_t i = 0;
      while (out[i] == orig[i]) i++;
      fprintf(stderr, "%s: reconstruction differs from the original at byte %zu\n", argv[2], i);
      return 1;
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "reconstruct") == 0) {
    if (read_file(argv[2], &jxl, &jxl_size) != 0) { perror(argv[2]); return 2; }
    if (reconstruct(argv[2], jxl, jxl_size, 2 * jxl_size + 65536, &out, &out_size) != 0) return 1;
    if (fwrite(out, 1, out_size, stdout) != out_size || fflush(stdout) != 0) { perror("stdout"); return 2; }
    return 0;
  }
  return usage();
}
