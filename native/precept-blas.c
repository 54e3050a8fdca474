/*
 * Precept's native matrix multiply: OpenBLAS's sgemm on jax-js's wasm memory.
 *
 * jax-js runs every matmul as a generated WebAssembly kernel, about a quarter
 * of the speed OpenBLAS reaches with AVX2/AVX-512 on the same cores. The
 * engine (src/engine/blas-matmul.ts) recognises a kernel that is a plain
 * (batched) matrix product and calls `sgemm` here instead, on the same
 * memory: the arrays stay where jax-js put them, nothing is copied.
 *
 * sgemm(memory, plan): memory is a Float32Array over the whole wasm memory;
 * plan is a Float64Array:
 *   [transA, transB, M, N, K, offsetA, lda, offsetB, ldb, offsetC, ldc,
 *    batchDims, (size, strideA, strideB, strideC) x batchDims]
 * in elements, row-major, C = op(A) op(B) with beta 0, once per batch index.
 */
#include <dlfcn.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cblas.h's constants (the ABI is fixed by the CBLAS standard). */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
static sgemm_fn cblas_sgemm_ptr;
static sgemv_fn cblas_sgemv_ptr;
static void (*set_threads_ptr)(int);
static char *(*get_config_ptr)(void);
static char load_error[512];

#define MAX_BATCH_DIMS 8
#define PLAN_HEAD 12

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/*
 * One product. A matrix-vector one (a decode step's rows of one token) goes to
 * sgemv: sgemm packs the whole matrix into panels first, and for one row that
 * copy is most of the work (a 49,152 x 576 head took 3x wasm's time).
 */
static void multiply(int transA, int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float *C, int64_t ldc) {
  if (M == 1) {
    /* C[0, n] = sum_k A[0, k] op(B)[k, n]: op(B)^T times A's row. */
    const int64_t incA = transA ? lda : 1;
    if (transB)
      cblas_sgemv_ptr(ROW_MAJOR, NO_TRANS, (int)N, (int)K, 1.0f, B, (int)ldb, A, (int)incA, 0.0f, C, 1);
    else
      cblas_sgemv_ptr(ROW_MAJOR, TRANS, (int)K, (int)N, 1.0f, B, (int)ldb, A, (int)incA, 0.0f, C, 1);
  } else if (N == 1) {
    /* C[m, 0] = sum_k op(A)[m, k] op(B)[k, 0]: op(A) times B's column. */
    const int64_t incB = transB ? 1 : ldb;
    if (transA)
      cblas_sgemv_ptr(ROW_MAJOR, TRANS, (int)K, (int)M, 1.0f, A, (int)lda, B, (int)incB, 0.0f, C, (int)ldc);
    else
      cblas_sgemv_ptr(ROW_MAJOR, NO_TRANS, (int)M, (int)K, 1.0f, A, (int)lda, B, (int)incB, 0.0f, C, (int)ldc);
  } else {
    cblas_sgemm_ptr(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, (int)M, (int)N, (int)K, 1.0f, A,
                    (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
  }
}

static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2)
    return fail(env, "sgemm(memory, plan): two arguments expected");

  napi_typedarray_type type;
  size_t memoryLength, planLength;
  void *memoryData, *planData;
  if (napi_get_typedarray_info(env, argv[0], &type, &memoryLength, &memoryData, NULL, NULL) != napi_ok ||
      type != napi_float32_array)
    return fail(env, "sgemm: memory must be a Float32Array");
  if (napi_get_typedarray_info(env, argv[1], &type, &planLength, &planData, NULL, NULL) != napi_ok ||
      type != napi_float64_array || planLength < PLAN_HEAD)
    return fail(env, "sgemm: plan must be a Float64Array of at least 12 numbers");

  if (!cblas_sgemm_ptr) return fail(env, load_error);
  float *memory = (float *)memoryData;
  const double *p = (const double *)planData;
  const int transA = p[0] != 0, transB = p[1] != 0;
  const int64_t M = (int64_t)p[2], N = (int64_t)p[3], K = (int64_t)p[4];
  const int64_t offA = (int64_t)p[5], lda = (int64_t)p[6];
  const int64_t offB = (int64_t)p[7], ldb = (int64_t)p[8];
  const int64_t offC = (int64_t)p[9], ldc = (int64_t)p[10];
  const int64_t dims = (int64_t)p[11];
  if (dims < 0 || dims > MAX_BATCH_DIMS || planLength != (size_t)(PLAN_HEAD + 4 * dims))
    return fail(env, "sgemm: plan has a wrong number of batch dimensions");

  int64_t size[MAX_BATCH_DIMS], strideA[MAX_BATCH_DIMS], strideB[MAX_BATCH_DIMS], strideC[MAX_BATCH_DIMS];
  int64_t count = 1;
  for (int64_t d = 0; d < dims; d++) {
    size[d] = (int64_t)p[PLAN_HEAD + 4 * d];
    strideA[d] = (int64_t)p[PLAN_HEAD + 4 * d + 1];
    strideB[d] = (int64_t)p[PLAN_HEAD + 4 * d + 2];
    strideC[d] = (int64_t)p[PLAN_HEAD + 4 * d + 3];
    count *= size[d];
  }

  /* Bounds: the last element each operand can touch must lie inside memory. */
  int64_t lastA = offA + (transA ? (K - 1) * lda + (M - 1) : (M - 1) * lda + (K - 1));
  int64_t lastB = offB + (transB ? (N - 1) * ldb + (K - 1) : (K - 1) * ldb + (N - 1));
  int64_t lastC = offC + (M - 1) * ldc + (N - 1);
  for (int64_t d = 0; d < dims; d++) {
    lastA += (size[d] - 1) * strideA[d];
    lastB += (size[d] - 1) * strideB[d];
    lastC += (size[d] - 1) * strideC[d];
  }
  if (M <= 0 || N <= 0 || K <= 0 || offA < 0 || offB < 0 || offC < 0 || lastA >= (int64_t)memoryLength ||
      lastB >= (int64_t)memoryLength || lastC >= (int64_t)memoryLength)
    return fail(env, "sgemm: the plan reaches outside the memory");

  int64_t index[MAX_BATCH_DIMS] = {0};
  for (int64_t b = 0; b < count; b++) {
    int64_t a = offA, bb = offB, c = offC;
    for (int64_t d = 0; d < dims; d++) {
      a += index[d] * strideA[d];
      bb += index[d] * strideB[d];
      c += index[d] * strideC[d];
    }
    multiply(transA, transB, M, N, K, memory + a, lda, memory + bb, ldb, memory + c, ldc);
    for (int64_t d = dims - 1; d >= 0; d--) {
      if (++index[d] < size[d]) break;
      index[d] = 0;
    }
  }
  return NULL;
}

/* setThreads(n): how many threads OpenBLAS uses for one call. */
static napi_value setThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1)
    return fail(env, "setThreads(n): a positive integer expected");
  if (!set_threads_ptr) return fail(env, load_error);
  set_threads_ptr(n);
  return NULL;
}

/* config(): OpenBLAS's build string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64". */
static napi_value config(napi_env env, napi_callback_info info) {
  napi_value result;
  if (!get_config_ptr) return fail(env, load_error);
  napi_create_string_utf8(env, get_config_ptr(), NAPI_AUTO_LENGTH, &result);
  return result;
}

/*
 * OpenBLAS picks its kernels from the CPU's family and model, and a virtual
 * CPU that names no model ("Intel Xeon Processor") gets Prescott's SSE3
 * kernels: 20 GFLOP/s where SkylakeX's do 140 on the same core. So unless the
 * user chose (OPENBLAS_CORETYPE), the core type follows the instruction sets
 * the CPU reports, and the library is loaded after that is set.
 */
static void load_openblas(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!getenv("OPENBLAS_CORETYPE")) {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
      setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      setenv("OPENBLAS_CORETYPE", "Haswell", 0);
  }
#endif
  const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"};
  void *library = NULL;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !library; i++) library = dlopen(names[i], RTLD_NOW);
  if (!library) {
    snprintf(load_error, sizeof(load_error),
             "OpenBLAS could not be loaded (%s); install it (Debian: apt-get install libopenblas0-pthread)", dlerror());
    return;
  }
  cblas_sgemm_ptr = (sgemm_fn)dlsym(library, "cblas_sgemm");
  cblas_sgemv_ptr = (sgemv_fn)dlsym(library, "cblas_sgemv");
  set_threads_ptr = (void (*)(int))dlsym(library, "openblas_set_num_threads");
  get_config_ptr = (char *(*)(void))dlsym(library, "openblas_get_config");
  if (!cblas_sgemm_ptr || !cblas_sgemv_ptr || !set_threads_ptr || !get_config_ptr) {
    cblas_sgemm_ptr = NULL;
    set_threads_ptr = NULL;
    get_config_ptr = NULL;
    snprintf(load_error, sizeof(load_error), "the loaded OpenBLAS lacks cblas_sgemm, cblas_sgemv or openblas_set_num_threads");
  }
}

NAPI_MODULE_INIT() {
  if (!cblas_sgemm_ptr && !load_error[0]) load_openblas();
  napi_property_descriptor properties[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, setThreads, NULL, NULL, NULL, napi_default, NULL},
      {"config", NULL, config, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}
