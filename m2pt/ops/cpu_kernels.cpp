// Compiled CPU fast path of m2pt.ops: exact farthest point sampling and k-nearest-neighbour search.
// Built and loaded by cpu_kernels.py; it must return exactly the indices of the PyTorch reference.
//
// Distances are squared Euclidean in double precision, summed as (dx*dx + dy*dy) + dz*dz like the
// reference; the build uses -ffp-contract=off so that no multiply-add is fused. Ties go to the lowest index.
// Cloud b is the first lengths[b] of its points. Each cloud is processed by one thread.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <thread>
#include <vector>

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Calls body(i) for every i in [0, count), spread over up to `threads` threads.
template <class Body>
void parallel_for(int64_t count, int64_t threads, const Body& body) {
  std::atomic<int64_t> next{0};
  const auto work = [&] {
    for (int64_t i; (i = next++) < count;) body(i);
  };
  std::vector<std::thread> helpers;
  for (int64_t t = 1; t < std::min(threads, count); ++t) helpers.emplace_back(work);
  work();
  for (auto& helper : helpers) helper.join();
}

// The coordinates of `size` points [size, 3], one array per axis, taken in the given order.
struct Axes {
  std::vector<double> x, y, z;
  Axes(const double* points, const int64_t* order, int64_t size) : x(size), y(size), z(size) {
    for (int64_t j = 0; j < size; ++j) {
      const double* p = points + 3 * order[j];
      x[j] = p[0];
      y[j] = p[1];
      z[j] = p[2];
    }
  }
};

std::vector<int64_t> identity(int64_t size) {
  std::vector<int64_t> order(size);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

// ---------------------------------------------------------------------------------------------------------
// Farthest point sampling

constexpr int64_t kSampleBlock = 256;  // points per block when looking for the farthest one

// out[0] = start; each next pick is the point farthest from those already picked.
void sample_cloud(const double* points, int64_t size, int64_t n, int64_t start, int64_t* out) {
  const Axes p(points, identity(size).data(), size);
  const double *x = p.x.data(), *y = p.y.data(), *z = p.z.data();
  std::vector<double> nearest_buffer(size, kInf);  // squared distance to the nearest picked point
  double* nearest = nearest_buffer.data();
  int64_t current = start;
  for (int64_t s = 0;; ++s) {
    out[s] = current;
    if (s + 1 == n) return;
    const double cx = x[current], cy = y[current], cz = z[current];
    double farthest = -1;
    int64_t farthest_block = 0;
    for (int64_t lo = 0; lo < size; lo += kSampleBlock) {
      const int64_t hi = std::min(lo + kSampleBlock, size);
      double block_max = -1;
#pragma omp simd reduction(max : block_max)
      for (int64_t j = lo; j < hi; ++j) {
        const double dx = x[j] - cx, dy = y[j] - cy, dz = z[j] - cz;
        const double d = dx * dx + dy * dy + dz * dz;
        const double m = d < nearest[j] ? d : nearest[j];
        nearest[j] = m;
        block_max = m > block_max ? m : block_max;
      }
      if (block_max > farthest) {  // strict: the first block holding the maximum wins
        farthest = block_max;
        farthest_block = lo;
      }
    }
    current = farthest_block;
    while (nearest[current] != farthest) ++current;
  }
}

// ---------------------------------------------------------------------------------------------------------
// k nearest neighbours

constexpr int64_t kBucket = 32;  // points per bucket

// Reorders index[lo, hi) so that every run of kBucket points (from lo) fills a compact box: median splits
// across the widest axis, as in a KD-tree whose leaves are the runs.
void kd_order(const double* points, int64_t* index, int64_t lo, int64_t hi) {
  if (hi - lo <= kBucket) return;
  double low[3] = {kInf, kInf, kInf}, high[3] = {-kInf, -kInf, -kInf};
  for (int64_t j = lo; j < hi; ++j)
    for (int a = 0; a < 3; ++a) {
      low[a] = std::min(low[a], points[3 * index[j] + a]);
      high[a] = std::max(high[a], points[3 * index[j] + a]);
    }
  int axis = 0;
  for (int a = 1; a < 3; ++a)
    if (high[a] - low[a] > high[axis] - low[axis]) axis = a;
  const int64_t mid = lo + ((hi - lo) / 2 + kBucket - 1) / kBucket * kBucket;  // whole buckets on the left
  std::nth_element(index + lo, index + mid, index + hi,
                   [&](int64_t i, int64_t j) { return points[3 * i + axis] < points[3 * j + axis]; });
  kd_order(points, index, lo, mid);
  kd_order(points, index, mid, hi);
}

// A cloud reordered by kd_order and cut into buckets of kBucket consecutive points, with their boxes.
struct Buckets {
  std::vector<int64_t> index;  // original index of each point
  Axes p;
  int64_t count;
  std::vector<double> lo_x, lo_y, lo_z, hi_x, hi_y, hi_z;

  Buckets(const double* points, int64_t size)
      : index(kd_ordered(points, size)),
        p(points, index.data(), size),
        count((size + kBucket - 1) / kBucket),
        lo_x(count, kInf), lo_y(count, kInf), lo_z(count, kInf),
        hi_x(count, -kInf), hi_y(count, -kInf), hi_z(count, -kInf) {
    for (int64_t j = 0; j < size; ++j) {
      const int64_t b = j / kBucket;
      lo_x[b] = std::min(lo_x[b], p.x[j]);
      lo_y[b] = std::min(lo_y[b], p.y[j]);
      lo_z[b] = std::min(lo_z[b], p.z[j]);
      hi_x[b] = std::max(hi_x[b], p.x[j]);
      hi_y[b] = std::max(hi_y[b], p.y[j]);
      hi_z[b] = std::max(hi_z[b], p.z[j]);
    }
  }

  static std::vector<int64_t> kd_ordered(const double* points, int64_t size) {
    std::vector<int64_t> order = identity(size);
    kd_order(points, order.data(), 0, size);
    return order;
  }
};

// How far c lies outside [lo, hi]. Rounding is monotonic, so its square never exceeds (v - c)^2 computed
// for any v in [lo, hi]: the bucket bounds below are true lower bounds in floating point too.
inline double gap(double c, double lo, double hi) {
  const double below = lo - c, above = c - hi;
  const double outside = below > above ? below : above;
  return outside > 0 ? outside : 0.0;
}

// A neighbour as one integer ordered like (distance, index): the bits of a non-negative double are
// ordered like its value.
using Key = unsigned __int128;

inline Key make_key(double distance, int64_t index) {
  uint64_t bits;
  std::memcpy(&bits, &distance, sizeof bits);
  return static_cast<Key>(bits) << 64 | static_cast<uint64_t>(index);
}

inline double key_distance(Key key) {
  const auto bits = static_cast<uint64_t>(key >> 64);
  double distance;
  std::memcpy(&distance, &bits, sizeof distance);
  return distance;
}

// The k nearest neighbours found so far, nearest first.
struct Nearest {
  int64_t k, size = 0;
  double bound = kInf;  // the k-th distance so far: no farther point can enter
  std::vector<Key> keys;

  explicit Nearest(int64_t k) : k(k), keys(k) {}

  void clear() {
    size = 0;
    bound = kInf;
  }
  void offer(double distance, int64_t index) {
    if (distance > bound) return;
    const Key key = make_key(distance, index);
    if (size == k && key > keys[k - 1]) return;
    int64_t slot = size < k ? size++ : k - 1;
    for (; slot > 0 && keys[slot - 1] > key; --slot) keys[slot] = keys[slot - 1];
    keys[slot] = key;
    if (size == k) bound = key_distance(keys[k - 1]);
  }
};

// out[q] = the k nearest points to centre q, nearest first.
void search_cloud(const double* points, int64_t size, const double* centers, int64_t n_centers, int64_t k,
                  int64_t* out) {
  const Buckets cloud(points, size);
  const int64_t n_buckets = cloud.count;
  std::vector<double> lower_bound(n_buckets);  // squared distance from the centre to each bucket's box
  Nearest best(k);
  double distance[kBucket];
  for (int64_t q = 0; q < n_centers; ++q) {
    const double cx = centers[3 * q], cy = centers[3 * q + 1], cz = centers[3 * q + 2];
    {
      const double *lx = cloud.lo_x.data(), *ly = cloud.lo_y.data(), *lz = cloud.lo_z.data();
      const double *hx = cloud.hi_x.data(), *hy = cloud.hi_y.data(), *hz = cloud.hi_z.data();
      double* lower = lower_bound.data();
#pragma omp simd
      for (int64_t b = 0; b < n_buckets; ++b) {
        const double gx = gap(cx, lx[b], hx[b]), gy = gap(cy, ly[b], hy[b]), gz = gap(cz, lz[b], hz[b]);
        lower[b] = gx * gx + gy * gy + gz * gz;
      }
    }
    const auto visit = [&](int64_t b) {
      if (lower_bound[b] > best.bound) return;
      const int64_t lo = b * kBucket, count = std::min(kBucket, size - lo);
      const double *x = cloud.p.x.data() + lo, *y = cloud.p.y.data() + lo, *z = cloud.p.z.data() + lo;
#pragma omp simd
      for (int64_t j = 0; j < count; ++j) {
        const double dx = x[j] - cx, dy = y[j] - cy, dz = z[j] - cz;
        distance[j] = dx * dx + dy * dy + dz * dz;
      }
      for (int64_t j = 0; j < count; ++j) best.offer(distance[j], cloud.index[lo + j]);
    };
    // Start from the nearest bucket and walk outwards: neighbouring buckets are close in space, so the
    // bound tightens early and most buckets are skipped.
    const int64_t home = std::min_element(lower_bound.begin(), lower_bound.end()) - lower_bound.begin();
    best.clear();
    visit(home);
    for (int64_t step = 1; step < n_buckets; ++step) {
      if (home - step >= 0) visit(home - step);
      if (home + step < n_buckets) visit(home + step);
    }
    for (int64_t j = 0; j < k; ++j) out[q * k + j] = static_cast<int64_t>(static_cast<uint64_t>(best.keys[j]));
  }
}

// The batched kernels, for coordinates of type T (float or double); each cloud is converted to double.

template <class T>
void farthest_point_sample(const T* points, int64_t batch, int64_t n_points, const int64_t* lengths, int64_t n,
                           int64_t start, int64_t* out, int64_t threads) {
  parallel_for(batch, threads, [&](int64_t b) {
    const T* cloud = points + b * n_points * 3;
    const std::vector<double> xyz(cloud, cloud + 3 * lengths[b]);
    sample_cloud(xyz.data(), lengths[b], n, start, out + b * n);
  });
}

template <class T>
void knn(const T* points, int64_t batch, int64_t n_points, const int64_t* lengths, const T* centers,
         int64_t n_centers, int64_t k, int64_t* out, int64_t threads) {
  parallel_for(batch, threads, [&](int64_t b) {
    const T* cloud = points + b * n_points * 3;
    const T* queries = centers + b * n_centers * 3;
    const std::vector<double> xyz(cloud, cloud + 3 * lengths[b]), centres(queries, queries + 3 * n_centers);
    search_cloud(xyz.data(), lengths[b], centres.data(), n_centers, k, out + b * n_centers * k);
  });
}

}  // namespace

// Entry points: points [B, N, 3], centers [B, G, 3] (float32 or float64, contiguous), lengths [B] int64;
// out [B, n] / [B, G, k] int64. Farthest point sampling starts at point `start` of every cloud.
extern "C" {

void m2pt_farthest_point_sample_f32(const float* points, int64_t batch, int64_t n_points, const int64_t* lengths,
                                    int64_t n, int64_t start, int64_t* out, int64_t threads) {
  farthest_point_sample(points, batch, n_points, lengths, n, start, out, threads);
}

void m2pt_farthest_point_sample_f64(const double* points, int64_t batch, int64_t n_points, const int64_t* lengths,
                                    int64_t n, int64_t start, int64_t* out, int64_t threads) {
  farthest_point_sample(points, batch, n_points, lengths, n, start, out, threads);
}

void m2pt_knn_f32(const float* points, int64_t batch, int64_t n_points, const int64_t* lengths, const float* centers,
                  int64_t n_centers, int64_t k, int64_t* out, int64_t threads) {
  knn(points, batch, n_points, lengths, centers, n_centers, k, out, threads);
}

void m2pt_knn_f64(const double* points, int64_t batch, int64_t n_points, const int64_t* lengths,
                  const double* centers, int64_t n_centers, int64_t k, int64_t* out, int64_t threads) {
  knn(points, batch, n_points, lengths, centers, n_centers, k, out, threads);
}

}  // extern "C"
