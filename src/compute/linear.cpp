#include "compute/linear.h"

#include "maxact/error.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "compute/linear_bf16.h"
#include "compute/thread_pool.h"
#include "maxact/dtype.h"

namespace maxact {

PackedWeight pack_weight(const float* w, int64_t out, int64_t in) {
  PackedWeight p;
  p.out = out;
  p.in = in;
  const int64_t panels = (out + kPanel - 1) / kPanel;
  p.data.assign(static_cast<std::size_t>(panels * in * kPanel), 0.0f);
  for (int64_t j = 0; j < out; ++j) {
    float* dst = p.data.data() + (j / kPanel) * in * kPanel + (j % kPanel);
    const float* src = w + j * in;
    for (int64_t k = 0; k < in; ++k) dst[k * kPanel] = src[k];
  }
  return p;
}

namespace {

using Kernel = void (*)(const float* x, int64_t ldx, int rows, const float* panel, int64_t K,
                        float* acc);

// acc [rows][kPanel] continues the chains over k for up to MR rows: acc = fma(x[k], w[k], acc)
// for k in order. All three kernels compute exactly the same value per element, only faster or
// slower, and splitting K into blocks (acc stored and reloaded between them) changes nothing.
template <int MR>
__attribute__((target("avx512f"))) void tile_avx512(const float* x, int64_t ldx, const float* panel,
                                                    int64_t K, float* acc) {
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; ++i) {
    c0[i] = _mm512_loadu_ps(acc + i * kPanel);
    c1[i] = _mm512_loadu_ps(acc + i * kPanel + 16);
  }
  for (int64_t k = 0; k < K; ++k) {
    const __m512 w0 = _mm512_loadu_ps(panel + k * kPanel);
    const __m512 w1 = _mm512_loadu_ps(panel + k * kPanel + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_set1_ps(x[i * ldx + k]);
      c0[i] = _mm512_fmadd_ps(xv, w0, c0[i]);
      c1[i] = _mm512_fmadd_ps(xv, w1, c1[i]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm512_storeu_ps(acc + i * kPanel, c0[i]);
    _mm512_storeu_ps(acc + i * kPanel + 16, c1[i]);
  }
}

__attribute__((target("avx512f"))) void kernel_avx512(const float* x, int64_t ldx, int rows,
                                                      const float* panel, int64_t K, float* acc) {
  by_rows(rows, [&](auto mr) { tile_avx512<mr()>(x, ldx, panel, K, acc); });
}

template <int MR>
__attribute__((target("avx2,fma"))) void tile_avx2(const float* x, int64_t ldx, const float* panel,
                                                   int64_t K, float* acc) {
  // 32 columns as four 8-wide vectors; MR <= 3 keeps the 12 accumulators in registers.
  __m256 c[MR][4];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 4; ++v) c[i][v] = _mm256_loadu_ps(acc + i * kPanel + 8 * v);
  for (int64_t k = 0; k < K; ++k) {
    // MR broadcasts + one weight vector at a time + 4 * MR accumulators fit the 16 registers.
    __m256 xv[MR];
    for (int i = 0; i < MR; ++i) xv[i] = _mm256_set1_ps(x[i * ldx + k]);
    for (int v = 0; v < 4; ++v) {
      const __m256 w = _mm256_loadu_ps(panel + k * kPanel + 8 * v);
      for (int i = 0; i < MR; ++i) c[i][v] = _mm256_fmadd_ps(xv[i], w, c[i][v]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 4; ++v) _mm256_storeu_ps(acc + i * kPanel + 8 * v, c[i][v]);
}

__attribute__((target("avx2,fma"))) void kernel_avx2(const float* x, int64_t ldx, int rows,
                                                     const float* panel, int64_t K, float* acc) {
  for (int r = 0; r < rows; r += 3) {
    const int n = std::min(3, rows - r);
    const float* xr = x + r * ldx;
    float* ar = acc + r * kPanel;
    if (n == 3) {
      tile_avx2<3>(xr, ldx, panel, K, ar);
    } else if (n == 2) {
      tile_avx2<2>(xr, ldx, panel, K, ar);
    } else {
      tile_avx2<1>(xr, ldx, panel, K, ar);
    }
  }
}

void kernel_scalar(const float* x, int64_t ldx, int rows, const float* panel, int64_t K,
                   float* acc) {
  for (int i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < kPanel; ++j) {
      float c = acc[i * kPanel + j];
      for (int64_t k = 0; k < K; ++k) c = std::fma(x[i * ldx + k], panel[k * kPanel + j], c);
      acc[i * kPanel + j] = c;
    }
  }
}

struct Dispatch {
  Kernel kernel;
  int rows;  // rows per kernel call
  const char* name;
};

// Fastest first.
std::vector<Dispatch> available() {
  __builtin_cpu_init();
  std::vector<Dispatch> v;
  if (__builtin_cpu_supports("avx512f")) v.push_back({kernel_avx512, 8, "avx512"});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    v.push_back({kernel_avx2, 6, "avx2"});
  }
  v.push_back({kernel_scalar, 4, "scalar"});
  return v;
}

const std::vector<Dispatch>& kernels() {
  static const std::vector<Dispatch> k = available();
  return k;
}

// The fastest kernel, or the one MAXACT_LINEAR_KERNEL names: so a machine with AVX-512 can run
// every test through the AVX2 path too (results must agree within the comparison tolerance).
const Dispatch& default_dispatch() {
  static const Dispatch* chosen = [] {
    const char* want = std::getenv("MAXACT_LINEAR_KERNEL");
    if (want == nullptr || *want == '\0') return &kernels().front();
    std::string names;
    for (const Dispatch& d : kernels()) {
      if (std::string(d.name) == want) return &d;
      names += (names.empty() ? "" : ", ") + std::string(d.name);
    }
    throw Error(ErrorCode::kOption, "MAXACT_LINEAR_KERNEL=" + quote_untrusted(want, 32, false) +
                                        ": not a kernel this CPU runs (" + names + ")");
  }();
  return *chosen;
}

const Dispatch& dispatch(const char* name) {
  if (name != nullptr) {
    for (const Dispatch& d : kernels()) {
      if (std::string(d.name) == name) return d;
    }
  }
  return default_dispatch();
}

}  // namespace

const char* linear_kernel_name() {
  return default_dispatch().name;
}

std::vector<std::string> linear_kernels() {
  std::vector<std::string> out;
  for (const Dispatch& d : kernels()) out.emplace_back(d.name);
  return out;
}

namespace {

// The GEMM's tasks, for both kernels: kRows rows x kPanelsPerTask panels each; inside, K in blocks
// of kK units (floats, or bf16 pairs) so a block of the task's rows and of a panel stay in cache
// while the other is swept. The partition never changes a value (see the kernels). call(x row
// offset, rows, panel, k0, kc, acc) runs the kernel on up to `step` rows.
template <typename X, typename W, typename Call>
void run_tasks(ThreadPool& pool, int64_t rows, int64_t N, int64_t K, const W* weights, int step,
               const float* bias, float* y, const X* x, Call&& call) {
  const int64_t panels = (N + kPanel - 1) / kPanel;
  constexpr int64_t kRows = 256, kPanelsPerTask = 4, kK = 256;
  const int64_t rb = (rows + kRows - 1) / kRows,
                pb = (panels + kPanelsPerTask - 1) / kPanelsPerTask;
  std::vector<std::vector<float>> scratch(static_cast<std::size_t>(pool.size()));
  pool.parallel_for(rb * pb, [&](int64_t t, int thread) {
    const int64_t r0 = (t / pb) * kRows, r1 = std::min(rows, r0 + kRows), nr = r1 - r0;
    const int64_t p0 = (t % pb) * kPanelsPerTask, p1 = std::min(panels, p0 + kPanelsPerTask);
    auto& acc = scratch[static_cast<std::size_t>(thread)];
    acc.assign(static_cast<std::size_t>((p1 - p0) * nr * kPanel), 0.0f);
    for (int64_t k0 = 0; k0 < K; k0 += kK) {
      const int64_t kc = std::min(kK, K - k0);
      for (int64_t p = p0; p < p1; ++p) {
        const W* panel = weights + (p * K + k0) * kPanel;
        float* ap = acc.data() + (p - p0) * nr * kPanel;
        for (int64_t r = r0; r < r1; r += step) {
          const int n = static_cast<int>(std::min<int64_t>(step, r1 - r));
          call(x + r * K + k0, n, panel, kc, ap + (r - r0) * kPanel);
        }
      }
    }
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t j0 = p * kPanel, cols = std::min(kPanel, N - j0);
      const float* ap = acc.data() + (p - p0) * nr * kPanel;
      for (int64_t i = 0; i < nr; ++i) {
        float* yr = y + (r0 + i) * N + j0;
        const float* a = ap + i * kPanel;
        if (bias != nullptr) {
          for (int64_t j = 0; j < cols; ++j) yr[j] = a[j] + bias[j0 + j];
        } else {
          std::copy(a, a + cols, yr);
        }
      }
    }
  });
}

bool bf16_gemm_here() {
  static const bool ok =
      bf16_gemm::cpu_has_avx512bf16() && std::string(default_dispatch().name) == "avx512";
  return ok;
}

// vdpbf16ps adds a pair's high half first: k even goes there, so each output is the same fma chain
// over k in order as the fp32 kernels compute (bit for bit, but for inputs and partial sums below
// 2^-126, which the instruction takes as zero). The last pair of an odd K is padded with zero.
uint32_t bf16_pair(const float* v, int64_t k, int64_t K) {
  const uint32_t even = f32_to_bf16(v[k]);
  const uint32_t odd = k + 1 < K ? f32_to_bf16(v[k + 1]) : 0u;
  return odd | even << 16;
}

// x's rows rounded to bf16 (nearest even) as pairs.
std::vector<uint32_t> bf16_pairs(ThreadPool& pool, const float* x, int64_t rows, int64_t K) {
  const int64_t kp = (K + 1) / 2;
  std::vector<uint32_t> out(static_cast<std::size_t>(rows * kp));
  const int64_t parts = std::min<int64_t>(pool.size(), std::max<int64_t>(1, rows / 16));
  pool.parallel_for(parts, [&](int64_t i, int) {
    int64_t b, e;
    split_range(rows, parts, i, b, e);
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * K;
      uint32_t* o = out.data() + r * kp;
      for (int64_t p = 0; p < kp; ++p) o[p] = bf16_pair(xr, 2 * p, K);
    }
  });
  return out;
}

}  // namespace

PackedWeight pack_weight_bf16(const float* w, int64_t out, int64_t in) {
  PackedWeight p;
  p.out = out;
  p.in = in;
  p.is_bf16 = true;
  const int64_t panels = (out + kPanel - 1) / kPanel, kp = (in + 1) / 2;
  p.bf16.assign(static_cast<std::size_t>(panels * kp * kPanel), 0u);
  for (int64_t j = 0; j < out; ++j) {
    uint32_t* dst = p.bf16.data() + (j / kPanel) * kp * kPanel + (j % kPanel);
    const float* src = w + j * in;
    for (int64_t q = 0; q < kp; ++q) dst[q * kPanel] = bf16_pair(src, 2 * q, in);
  }
  return p;
}

bool bf16_gemm_available() {
  return bf16_gemm_here();
}

const char* linear_kernel_name(bool bf16) {
  return bf16 && bf16_gemm_here() ? "avx512bf16" : linear_kernel_name();
}

void linear_packed(ThreadPool& pool, const float* x, int64_t rows, const PackedWeight& w,
                   const float* bias, float* y, const char* kernel) {
  if (w.is_bf16) {
    const bool emulate = (kernel != nullptr && std::string(kernel) == "bf16-emulated") ||
                         !bf16_gemm::cpu_has_avx512bf16();
    const bf16_gemm::Kernel k = emulate ? bf16_gemm::emulated : bf16_gemm::avx512bf16;
    const int64_t kp = (w.in + 1) / 2;
    const std::vector<uint32_t> xp = bf16_pairs(pool, x, rows, w.in);
    run_tasks(pool, rows, w.out, kp, w.bf16.data(), 8, bias, y, xp.data(),
              [&](const uint32_t* xr, int n, const uint32_t* panel, int64_t kc, float* acc) {
                k(xr, kp, n, panel, kc, acc);
              });
    return;
  }
  const Dispatch& d = dispatch(kernel);
  run_tasks(pool, rows, w.out, w.in, w.data.data(), d.rows, bias, y, x,
            [&](const float* xr, int n, const float* panel, int64_t kc, float* acc) {
              d.kernel(xr, w.in, n, panel, kc, acc);
            });
}

}  // namespace maxact
