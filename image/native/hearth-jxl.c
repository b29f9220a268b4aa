/*
 * hearth-jxl reconstruct FILE.jxl|- [EXPECTED_BYTES]
 *   Reconstructs the JPEG a JPEG XL file (or stdin, for `-`) holds, with libjxl's own
 *   decoder, and writes it to stdout. Exit 0; 1, with a message, when the input holds
 *   no JPEG to reconstruct; 2: usage or I/O error. The store hands the .jxl over as
 *   bytes (it may be a needle in a volume or an object behind HTTP, never a file).
 *
 * Why not djxl: djxl up to libjxl 0.8 starts with a 16 KiB output buffer, and each
 * JXL_DEC_JPEG_NEED_MORE_OUTPUT makes the decoder redo the whole reconstruction into a
 * buffer twice as large (libjxl PR #2534, fixed in 0.9; Debian 12 ships 0.7). Here the
 * buffer starts at the original's size where the caller knows it (the digest recorded
 * with the .jxl), else at twice the .jxl's (JPEG XL saves ~20 %), so the work is done once.
 */
#include <jxl/decode.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_all(FILE *f, uint8_t **data, size_t *size) {
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) return -1;
  for (;;) {
    if (n == cap) {
      uint8_t *more = realloc(buf, cap *= 2);
      if (!more) { free(buf); return -1; }
      buf = more;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) { free(buf); return -1; }
  *data = buf;
  *size = n;
  return 0;
}

static int read_input(const char *path, uint8_t **data, size_t *size) {
  if (strcmp(path, "-") == 0) return read_all(stdin, data, size);
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int rc = read_all(f, data, size);
  fclose(f);
  return rc;
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
  fprintf(stderr, "usage: hearth-jxl reconstruct FILE.jxl|- [EXPECTED_BYTES] > ORIGINAL.jpg\n");
  return 2;
}

int main(int argc, char **argv) {
  uint8_t *jxl, *out;
  size_t jxl_size, out_size;
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "reconstruct") == 0) {
    const char *name = strcmp(argv[2], "-") == 0 ? "stdin" : argv[2];
    if (read_input(argv[2], &jxl, &jxl_size) != 0) { perror(name); return 2; }
    size_t cap = argc == 4 ? strtoull(argv[3], NULL, 10) + 65536 : 2 * jxl_size + 65536;
    if (reconstruct(name, jxl, jxl_size, cap, &out, &out_size) != 0) return 1;
    if (fwrite(out, 1, out_size, stdout) != out_size || fflush(stdout) != 0) { perror("stdout"); return 2; }
    return 0;
  }
  return usage();
}
