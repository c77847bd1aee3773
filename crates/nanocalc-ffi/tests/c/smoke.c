/*
 * A C program against include/nanocalc.h and the nanocalc-ffi library, as a C caller would use
 * them: it encodes requests, calls the engine, and decodes the protobuf responses by hand.
 * Compiled and run by tests/c_smoke.rs (cargo test -p nanocalc-ffi); prints "N passed, N failed".
 */
#include "nanocalc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond, ...)                         \
  do {                                           \
    if (cond) {                                  \
      passed++;                                  \
    } else {                                     \
      failed++;                                  \
      fprintf(stderr, "FAILED line %d: ", __LINE__); \
      fprintf(stderr, __VA_ARGS__);              \
      fprintf(stderr, "\n");                     \
    }                                            \
  } while (0)

enum { ADD = 1, SUBTRACT = 2, MULTIPLY = 3, DIVIDE = 4, REMAINDER = 5 };
enum { DIVISION_BY_ZERO = 1, INVALID_REQUEST = 2, LIMIT_EXCEEDED = 3 };

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static uint64_t get_varint(const uint8_t **p) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t byte = *(*p)++;
    v |= (uint64_t)(byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  return v;
}

/* CalculatorRequest { <op>: BinaryOp { a, b } } */
static size_t binary_request(uint8_t *p, int op, int64_t a, int64_t b) {
  uint8_t body[22];
  size_t n = 0;
  body[n++] = 0x08;
  n += put_varint(body + n, (uint64_t)a);
  body[n++] = 0x10;
  n += put_varint(body + n, (uint64_t)b);
  p[0] = (uint8_t)(op << 3 | 2);
  p[1] = (uint8_t)n;
  memcpy(p + 2, body, n);
  return n + 2;
}

/* The parts of a CalculatorResponse this program looks at. */
typedef struct {
  int kind; /* 1 value, 2 error, 3 batch */
  int64_t value;
  uint64_t code;
  char message[128];
  const uint8_t *values; /* batch: packed sfixed64 */
  size_t count;
} response;

static response decode(const uint8_t *p, size_t len) {
  response r;
  memset(&r, 0, sizeof r);
  const uint8_t *end = p + len;
  if (len == 0) return r;
  uint8_t key = *p++;
  r.kind = key >> 3;
  if (key == 0x08) {
    r.value = (int64_t)get_varint(&p);
  } else if (key == 0x12) {
    size_t body = (size_t)get_varint(&p);
    const uint8_t *body_end = p + body;
    while (p < body_end) {
      uint8_t field = *p++;
      if (field == 0x08) {
        r.code = get_varint(&p);
      } else if (field == 0x12) {
        size_t n = (size_t)get_varint(&p);
        size_t keep = n < sizeof r.message - 1 ? n : sizeof r.message - 1;
        memcpy(r.message, p, keep);
        p += n;
      } else {
        get_varint(&p);
      }
    }
  } else if (key == 0x1a) {
    get_varint(&p); /* BatchResult length */
    if (p < end && *p == 0x0a) {
      p++;
      size_t n = (size_t)get_varint(&p);
      r.values = p;
      r.count = n / 8;
    }
  }
  return r;
}

static int64_t value_at(const response *r, size_t i) {
  int64_t v;
  memcpy(&v, r->values + 8 * i, 8);
  return v;
}

static response process(NanocalcEngine *engine, const uint8_t *request, size_t len, int32_t *status) {
  static uint8_t out[4096];
  size_t out_len = 0;
  *status = nanocalc_process(engine, request, len, out, sizeof out, &out_len);
  return decode(out, out_len);
}

static response binary(NanocalcEngine *engine, int op, int64_t a, int64_t b) {
  uint8_t request[32];
  int32_t status;
  response r = process(engine, request, binary_request(request, op, a, b), &status);
  if (status != NANOCALC_OK) fprintf(stderr, "status %d\n", status);
  return r;
}

int main(void) {
  /* Limits out of range: NULL and a message. */
  CHECK(nanocalc_engine_new(0, 100, 4) == NULL, "a zero limit is refused");
  CHECK(strstr(nanocalc_last_error_message(), "max_request_bytes") != NULL, "message: %s",
        nanocalc_last_error_message());
  CHECK(nanocalc_engine_new(1024, 0x80000000u, 4) == NULL, "a limit past 2^31 - 1 is refused");

  NanocalcEngine *engine = nanocalc_engine_new(1 << 20, 1000, 4);
  CHECK(engine != NULL, "an engine with good limits");

  /* Arithmetic. */
  response r = binary(engine, ADD, 2, 3);
  CHECK(r.kind == 1 && r.value == 5, "2 + 3 = %lld", (long long)r.value);
  r = binary(engine, SUBTRACT, -7, 5);
  CHECK(r.kind == 1 && r.value == -12, "-7 - 5 = %lld", (long long)r.value);
  r = binary(engine, ADD, INT64_MAX, 1);
  CHECK(r.kind == 1 && r.value == INT64_MAX, "MAX + 1 saturates: %lld", (long long)r.value);
  r = binary(engine, MULTIPLY, INT64_MIN, 2);
  CHECK(r.kind == 1 && r.value == INT64_MIN, "MIN * 2 saturates: %lld", (long long)r.value);
  r = binary(engine, DIVIDE, INT64_MIN, -1);
  CHECK(r.kind == 1 && r.value == INT64_MAX, "MIN / -1 = MAX: %lld", (long long)r.value);
  r = binary(engine, REMAINDER, -7, 2);
  CHECK(r.kind == 1 && r.value == -1, "-7 %% 2 = -1: %lld", (long long)r.value);

  /* Errors come back inside the response. */
  r = binary(engine, DIVIDE, 1, 0);
  CHECK(r.kind == 2 && r.code == DIVISION_BY_ZERO, "1 / 0: kind %d code %llu", r.kind,
        (unsigned long long)r.code);
  CHECK(strcmp(r.message, "division by zero") == 0, "message: %s", r.message);
  int32_t status;
  const uint8_t malformed[] = {0xff, 0xff, 0xff};
  r = process(engine, malformed, sizeof malformed, &status);
  CHECK(status == NANOCALC_OK && r.kind == 2 && r.code == INVALID_REQUEST,
        "malformed bytes: status %d kind %d code %llu", status, r.kind, (unsigned long long)r.code);
  r = process(engine, NULL, 0, &status);
  CHECK(status == NANOCALC_OK && r.kind == 2 && r.code == INVALID_REQUEST, "an empty request: INVALID_REQUEST");

  /* A limit: a request longer than the engine allows. */
  NanocalcEngine *tiny = nanocalc_engine_new(4, 1000, 4);
  uint8_t request[32];
  size_t len = binary_request(request, ADD, 1000000, 1000000);
  r = process(tiny, request, len, &status);
  CHECK(r.kind == 2 && r.code == LIMIT_EXCEEDED, "over max_request_bytes: code %llu", (unsigned long long)r.code);
  nanocalc_engine_free(tiny);

  /* Call errors are statuses. */
  size_t out_len = 0;
  uint8_t small[8];
  status = nanocalc_process(engine, request, len, small, sizeof small, &out_len);
  CHECK(status == NANOCALC_ERROR_OUT_TOO_SMALL && out_len == NANOCALC_SMALL_RESPONSE_MAX,
        "a small output buffer: status %d, needs %zu", status, out_len);
  status = nanocalc_process(NULL, request, len, small, sizeof small, &out_len);
  CHECK(status == NANOCALC_ERROR_NULL_POINTER, "a NULL engine: status %d", status);
  CHECK(strlen(nanocalc_last_error_message()) > 0, "with a message");

  /* The shared-buffer protocol: a column batch of 64 adds, first in a buffer too small for it. */
  enum { N = 64 };
  size_t request_len = 0;
  uint8_t *column_request = malloc(24 + 16 * N);
  {
    uint8_t *p = column_request;
    size_t n = 0;
    p[n++] = 0x3a;
    n += put_varint(p + n, 2 + 2 * (1 + 2 + 8 * N)); /* ColumnBatch length (8N = 512: two bytes) */
    p[n++] = 0x08;
    p[n++] = ADD;
    for (int column = 0; column < 2; column++) {
      p[n++] = column == 0 ? 0x12 : 0x1a;
      n += put_varint(p + n, 8 * N);
      for (int i = 0; i < N; i++) {
        int64_t v = column == 0 ? (int64_t)i * 1000 : (i == N - 1 ? INT64_MAX : -i);
        memcpy(p + n, &v, 8);
        n += 8;
      }
    }
    request_len = n;
  }
  /* Room for the request, not for the 512 bytes of values in the response. */
  size_t capacity = (NANOCALC_REQUEST_OFFSET + request_len + 7) / 8 * 8 + 64;
  uint64_t *words = calloc(capacity / 8, 8);
  /* A buffer too small for the response gets the capacity it needs (more than once, if the first
   * answer was only for the response's minimum size), and then the answer. */
  int asked = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    uint8_t *buffer = (uint8_t *)words;
    uint32_t len32 = (uint32_t)request_len;
    memcpy(buffer, &len32, 4);
    memcpy(buffer + NANOCALC_REQUEST_OFFSET, column_request, request_len);
    status = nanocalc_call(engine, buffer, (uint32_t)capacity);
    CHECK(status == NANOCALC_OK, "nanocalc_call: status %d", status);
    uint32_t start, length;
    memcpy(&start, buffer + 4, 4);
    memcpy(&length, buffer + 8, 4);
    if (length == NANOCALC_NEED_CAPACITY) {
      CHECK(start > capacity, "a small buffer asks for more: %u bytes", start);
      asked++;
      capacity = start;
      words = realloc(words, (capacity + 7) / 8 * 8);
      continue;
    }
    r = decode(buffer + start, length);
    CHECK(r.kind == 3 && r.count == N, "a batch of %d: kind %d count %zu", N, r.kind, r.count);
    CHECK(((uintptr_t)r.values & 7) == 0, "batch values are 8-byte aligned");
    int right = 1;
    for (int i = 0; i < N - 1; i++) right &= value_at(&r, (size_t)i) == (int64_t)i * 1000 - i;
    CHECK(right, "batch values");
    CHECK(value_at(&r, N - 1) == INT64_MAX, "the last one saturates");
    break;
  }
  CHECK(asked > 0, "the first buffer was too small");
  free(words);

  /* The same batch with no copies: the frame in the buffer, the lists and values in the caller's
   * arrays (the lists' bytes in the buffer are overwritten, to show they are not read). */
  {
    int64_t a[N], b[N], out[N];
    for (int i = 0; i < N; i++) {
      a[i] = (int64_t)i * 1000;
      b[i] = i == N - 1 ? INT64_MAX : -i;
      out[i] = 7;
    }
    /* Room for the response too, which the copies take when out shares memory with a or b. */
    size_t room = (NANOCALC_REQUEST_OFFSET + request_len + 7) / 8 * 8 + 8 * N + 40;
    uint8_t *buffer = calloc(room / 8, 8);
    uint32_t len32 = (uint32_t)request_len;
    memcpy(buffer, &len32, 4);
    memcpy(buffer + NANOCALC_REQUEST_OFFSET, column_request, request_len);
    memset(buffer + NANOCALC_REQUEST_OFFSET + 8, 0x55, 8 * N); /* a's bytes, after 3a len(2) 08 01 12 len(2) */
    status = nanocalc_columns(engine, buffer, (uint32_t)room, a, b, out, N);
    uint32_t length;
    memcpy(&length, buffer + 8, 4);
    CHECK(status == NANOCALC_OK && length == 0, "nanocalc_columns: status %d, response length %u", status, length);
    int right = out[N - 1] == INT64_MAX;
    for (int i = 0; i < N - 1; i++) right &= out[i] == (int64_t)i * 1000 - i;
    CHECK(right, "nanocalc_columns: the values in out");
    /* out over a: every input read before a result is written. */
    status = nanocalc_columns(engine, buffer, (uint32_t)room, a, b, a, N);
    CHECK(status == NANOCALC_OK && memcmp(a, out, sizeof out) == 0, "nanocalc_columns: out = a");
    CHECK(nanocalc_columns(engine, buffer, (uint32_t)room, a, b, out, N - 1) == NANOCALC_ERROR_BAD_BUFFER,
          "nanocalc_columns: a count other than the frame's");
    CHECK(nanocalc_columns(engine, buffer, (uint32_t)room, NULL, b, out, N) == NANOCALC_ERROR_NULL_POINTER,
          "nanocalc_columns: a NULL column");
    free(buffer);
  }
  free(column_request);

  /* A buffer too short for the control words is a call error. */
  uint8_t short_buffer[8] = {0};
  CHECK(nanocalc_call(engine, short_buffer, sizeof short_buffer) == NANOCALC_ERROR_BAD_BUFFER, "a short buffer");

  nanocalc_engine_free(engine);
  nanocalc_engine_free(NULL);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
