// engram's numeric kernels: the arithmetic of brain/local-model.ts's fit and predict, and of the
// planner's first walk step (brain/plan.ts walkFirst), in C++.
//
// The planner fits a local linear model once per step and predicts the outcome of every candidate
// action through it (32 per step); at 64 state dimensions that arithmetic was ~40% of a brain step in
// JavaScript, which has no SIMD. These functions do the same operations in the same order on the same
// IEEE doubles, so their results are bit for bit those of the JavaScript (test/brain/local-model-
// native.test.ts checks it), and the brain learns exactly the same with or without this addon:
// - every sum is accumulated in the order the JavaScript uses; the compiler vectorises only across
//   independent sums (outputs, neighbours), never inside one, and never contracts a*b+c into an FMA
//   (binding.gyp: -ffp-contract=off, no -ffast-math);
// - a Float32Array element written in JavaScript is rounded to float at every write, so `delta` is
//   too; Math.exp stays in JavaScript (V8's exp and libm's may differ in the last bit).
//
// Plain Node-API. The model's own arrays are bound once, at construction (a reference keeps each
// alive; their backing stores are off-heap, so the pointers stay valid as long as nobody detaches
// their ArrayBuffers: local-model.ts never transfers them); the store's arrays and the query come
// with each call. Every call checks its indices against the arrays' lengths.
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "engram_napi.h"

namespace {

using engram::getTyped;
using engram::getUint;
using engram::readArguments;
using engram::throwError;
using engram::undefinedValue;

// results[]: the scalars a fit or a prediction produces, read back by local-model.ts
constexpr size_t kStateScale = 0;
constexpr size_t kNextScale = 1;
constexpr size_t kValueMin = 2;
constexpr size_t kValueMax = 3;
constexpr size_t kReward = 4;
constexpr size_t kResults = 5;

// local-model.ts BIAS * BIAS
constexpr double kBias2 = 9.0;

struct Array64 {
  double* data = nullptr;
  size_t length = 0;
};

struct LocalModel {
  size_t dim = 0;
  size_t actionDim = 0;
  size_t maxK = 0;
  double actionMid = 0;
  double inverseActionScale = 0;
  double ridge = 0;
  double discount = 1;
  // the model's arrays (local-model.ts), bound at construction
  double* stateFeatures = nullptr;   // maxK x dim
  double* actionFeatures = nullptr;  // maxK x actionDim
  double* nextFeatures = nullptr;    // maxK x dim
  double* alpha = nullptr;           // maxK x (dim + 1)
  double* beta = nullptr;            // maxK
  double* gram = nullptr;            // maxK x maxK
  double* kernelWeights = nullptr;   // maxK
  double* centre = nullptr;          // dim
  double* dots = nullptr;            // maxK
  double* results = nullptr;         // kResults
  float* delta = nullptr;            // dim
  static constexpr size_t kBound = 11;
  napi_ref refs[kBound] = {};
};

constexpr size_t kMaxArgs = 18;

struct Call {
  napi_env env;
  napi_value self;
  napi_value argv[kMaxArgs];
  size_t argc = kMaxArgs;
  LocalModel* model = nullptr;
};

bool begin(napi_env env, napi_callback_info info, Call& call, size_t minArgs, const char* name, bool needModel = true) {
  if (!readArguments(env, info, call, minArgs, name)) return false;
  if (!needModel) return true;
  void* data = nullptr;
  if (napi_unwrap(env, call.self, &data) != napi_ok || data == nullptr) {
    return throwError(env, std::string(name) + ": not called on engram's LocalModelKernels");
  }
  call.model = static_cast<LocalModel*>(data);
  return true;
}

bool getDouble(Call& call, size_t i, const char* what, double& out) {
  if (napi_get_value_double(call.env, call.argv[i], &out) != napi_ok || !std::isfinite(out)) {
    return throwError(call.env, std::string(what) + " must be a finite number");
  }
  return true;
}

// A model array bound at construction: at least `need` elements, kept alive by a reference.
template <typename T>
bool bind(Call& call, LocalModel& model, size_t i, napi_typedarray_type type, const char* what, size_t need, T*& out) {
  size_t length = 0;
  if (!getTyped(call, i, type, what, out, length)) return false;
  if (length < need) {
    return throwError(call.env, std::string(what) + " has " + std::to_string(length) + " elements, needs " +
                                    std::to_string(need));
  }
  napi_create_reference(call.env, call.argv[i], 1, &model.refs[i - 7]);
  return true;
}

// new LocalModelKernels(dim, actionDim, maxK, actionMid, inverseActionScale, ridge, discount,
//   stateFeatures, actionFeatures, nextFeatures, alpha, beta, gram, kernelWeights, centre, dots,
//   results, delta)
napi_value Construct(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 18, "LocalModelKernels", false)) return nullptr;
  auto* model = new LocalModel();
  LocalModel& m = *model;
  const bool ok = getUint(call, 0, "dim", m.dim) && getUint(call, 1, "actionDim", m.actionDim) &&
                  getUint(call, 2, "maxK", m.maxK) && getDouble(call, 3, "actionMid", m.actionMid) &&
                  getDouble(call, 4, "inverseActionScale", m.inverseActionScale) &&
                  getDouble(call, 5, "ridge", m.ridge) && getDouble(call, 6, "discount", m.discount) &&
                  bind(call, m, 7, napi_float64_array, "stateFeatures", m.maxK * m.dim, m.stateFeatures) &&
                  bind(call, m, 8, napi_float64_array, "actionFeatures", m.maxK * m.actionDim, m.actionFeatures) &&
                  bind(call, m, 9, napi_float64_array, "nextFeatures", m.maxK * m.dim, m.nextFeatures) &&
                  bind(call, m, 10, napi_float64_array, "alpha", m.maxK * (m.dim + 1), m.alpha) &&
                  bind(call, m, 11, napi_float64_array, "beta", m.maxK, m.beta) &&
                  bind(call, m, 12, napi_float64_array, "gram", m.maxK * m.maxK, m.gram) &&
                  bind(call, m, 13, napi_float64_array, "kernelWeights", m.maxK, m.kernelWeights) &&
                  bind(call, m, 14, napi_float64_array, "centre", m.dim, m.centre) &&
                  bind(call, m, 15, napi_float64_array, "dots", m.maxK, m.dots) &&
                  bind(call, m, 16, napi_float64_array, "results", kResults, m.results) &&
                  bind(call, m, 17, napi_float32_array, "delta", m.dim, m.delta);
  if (!ok || m.dim == 0 || m.actionDim == 0 || m.maxK == 0) {
    for (napi_ref ref : m.refs)
      if (ref != nullptr) napi_delete_reference(env, ref);
    delete model;
    if (ok) throwError(env, "LocalModelKernels: dim, actionDim and maxK must be at least 1");
    return nullptr;
  }
  const napi_status wrapped = napi_wrap(
      env, call.self, model,
      [](napi_env env, void* data, void*) {
        auto* model = static_cast<LocalModel*>(data);
        for (napi_ref ref : model->refs) napi_delete_reference(env, ref);
        delete model;
      },
      nullptr, nullptr);
  if (wrapped != napi_ok) {
    for (napi_ref ref : m.refs) napi_delete_reference(env, ref);
    delete model;
    throwError(env, "LocalModelKernels: cannot wrap the object (call it with new)");
    return nullptr;
  }
  return call.self;
}

// local-model.ts choleskyInPlace
void choleskyInPlace(double* m, size_t k) {
  for (size_t j = 0; j < k; j++) {
    double diagonal = m[j * k + j];
    for (size_t p = 0; p < j; p++) diagonal -= m[j * k + p] * m[j * k + p];
    const double root = std::sqrt(diagonal > 1e-12 ? diagonal : 1e-12);
    m[j * k + j] = root;
    for (size_t i = j + 1; i < k; i++) {
      double sum = m[i * k + j];
      for (size_t p = 0; p < j; p++) sum -= m[i * k + p] * m[j * k + p];
      m[i * k + j] = sum / root;
    }
  }
}

// local-model.ts choleskySolve for `outputs` right-hand sides at once: b is k x outputs (row j holds
// every output's element j). Each output sees exactly the single-solve's operations in its order; the
// loops over outputs are the independent lanes the compiler vectorises.
void choleskySolveMany(const double* m, size_t k, double* b, size_t outputs) {
  for (size_t i = 0; i < k; i++) {
    double* row = b + i * outputs;
    for (size_t p = 0; p < i; p++) {
      const double factor = m[i * k + p];
      const double* from = b + p * outputs;
      for (size_t o = 0; o < outputs; o++) row[o] -= factor * from[o];
    }
    const double diagonal = m[i * k + i];
    for (size_t o = 0; o < outputs; o++) row[o] /= diagonal;
  }
  for (size_t i = k; i-- > 0;) {
    double* row = b + i * outputs;
    for (size_t p = i + 1; p < k; p++) {
      const double factor = m[p * k + i];
      const double* from = b + p * outputs;
      for (size_t o = 0; o < outputs; o++) row[o] -= factor * from[o];
    }
    const double diagonal = m[i * k + i];
    for (size_t o = 0; o < outputs; o++) row[o] /= diagonal;
  }
}

// fit(context, outcome, action, reward, returnEstimate, slots, k): local-model.ts fit after the
// kernel weights (which it computes, with Math.exp, before calling): features, scales, value range,
// Gram, Cholesky, and the dual coefficients alpha of every output.
napi_value Fit(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 7, "fit")) return nullptr;
  LocalModel& m = *call.model;
  float *context, *outcome, *action, *reward, *returnEstimate;
  int32_t* slots;
  size_t contextLength, outcomeLength, actionLength, rewardLength, returnLength, slotsLength, k;
  if (!getTyped(call, 0, napi_float32_array, "context", context, contextLength) ||
      !getTyped(call, 1, napi_float32_array, "outcome", outcome, outcomeLength) ||
      !getTyped(call, 2, napi_float32_array, "action", action, actionLength) ||
      !getTyped(call, 3, napi_float32_array, "reward", reward, rewardLength) ||
      !getTyped(call, 4, napi_float32_array, "returnEstimate", returnEstimate, returnLength) ||
      !getTyped(call, 5, napi_int32_array, "slots", slots, slotsLength) || !getUint(call, 6, "k", k)) {
    return nullptr;
  }
  const size_t dim = m.dim;
  const size_t actionDim = m.actionDim;
  if (k == 0 || k > m.maxK || k > slotsLength) {
    throwError(env, "fit: k " + std::to_string(k) + " must be 1.." + std::to_string(m.maxK) + " and at most slots' length");
    return nullptr;
  }
  for (size_t j = 0; j < k; j++) {
    const int32_t slot = slots[j];
    const size_t s = static_cast<size_t>(slot);
    if (slot < 0 || (s + 1) * dim > contextLength || (s + 1) * dim > outcomeLength ||
        (s + 1) * actionDim > actionLength || s >= rewardLength || s >= returnLength) {
      throwError(env, "fit: slot " + std::to_string(slot) + " is outside the store's arrays");
      return nullptr;
    }
  }
  double* stateFeatures = m.stateFeatures;
  double* nextFeatures = m.nextFeatures;
  double* actionFeatures = m.actionFeatures;
  double valueMin = INFINITY;
  double valueMax = -INFINITY;
  for (size_t j = 0; j < k; j++) {
    const size_t slot = static_cast<size_t>(slots[j]);
    const float* from = context + slot * dim;
    const float* change = outcome + slot * dim;
    for (size_t i = 0; i < dim; i++) {
      const double relative = static_cast<double>(from[i]) - m.centre[i];
      stateFeatures[j * dim + i] = relative;
      nextFeatures[j * dim + i] = relative + static_cast<double>(change[i]);
    }
    const float* taken = action + slot * actionDim;
    for (size_t i = 0; i < actionDim; i++) {
      actionFeatures[j * actionDim + i] = (static_cast<double>(taken[i]) - m.actionMid) * m.inverseActionScale;
    }
    const double value =
        (static_cast<double>(returnEstimate[slot]) - static_cast<double>(reward[slot])) / m.discount;
    m.beta[j] = value;
    if (value < valueMin) valueMin = value;
    if (value > valueMax) valueMax = value;
  }
  double stateSquares = 0;
  double nextSquares = 0;
  for (size_t q = 0; q < k * dim; q++) {
    stateSquares += stateFeatures[q] * stateFeatures[q];
    nextSquares += nextFeatures[q] * nextFeatures[q];
  }
  const double stateScale = 1 / std::sqrt(stateSquares / static_cast<double>(k) + 1e-12);
  const double nextScale = 1 / std::sqrt(nextSquares / static_cast<double>(k) + 1e-12);
  for (size_t q = 0; q < k * dim; q++) {
    stateFeatures[q] = stateFeatures[q] * stateScale;
    nextFeatures[q] = nextFeatures[q] * nextScale;
  }
  const double margin = 0.1 * (valueMax - valueMin);
  m.results[kStateScale] = stateScale;
  m.results[kNextScale] = nextScale;
  m.results[kValueMin] = valueMin - margin;
  m.results[kValueMax] = valueMax + margin;

  double* gram = m.gram;
  for (size_t a = 0; a < k; a++) {
    for (size_t b = 0; b <= a; b++) {
      double sum = kBias2;
      for (size_t i = 0; i < dim; i++) sum += stateFeatures[a * dim + i] * stateFeatures[b * dim + i];
      for (size_t i = 0; i < actionDim; i++) sum += actionFeatures[a * actionDim + i] * actionFeatures[b * actionDim + i];
      gram[a * k + b] = sum;
    }
    gram[a * k + a] = gram[a * k + a] + m.ridge / m.kernelWeights[a];
  }
  choleskyInPlace(gram, k);
  // alpha's layout (k x outputs) is the many-solve's right-hand side layout: fill it and solve in place
  const size_t outputs = dim + 1;
  double* alpha = m.alpha;
  for (size_t j = 0; j < k; j++) {
    const size_t slot = static_cast<size_t>(slots[j]);
    const float* change = outcome + slot * dim;
    double* row = alpha + j * outputs;
    for (size_t o = 0; o < dim; o++) row[o] = static_cast<double>(change[o]);
    row[dim] = static_cast<double>(reward[slot]);
  }
  choleskySolveMany(gram, k, alpha, outputs);
  return undefinedValue(env);
}

// predict(x | null, actions, offset, k): local-model.ts predict (x) or predictAtCentre (null):
// the kernel dots of the query with each neighbour, then delta (Float32, rounded at every sum as a
// Float32Array element is) and the reward into results[kReward].
napi_value Predict(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 4, "predict")) return nullptr;
  LocalModel& m = *call.model;
  napi_valuetype xType;
  napi_typeof(env, call.argv[0], &xType);
  float* x = nullptr;
  size_t xLength = 0;
  float* actions = nullptr;
  size_t actionsLength = 0;
  size_t offset = 0;
  size_t k = 0;
  if ((xType != napi_null && !getTyped(call, 0, napi_float32_array, "x", x, xLength)) ||
      !getTyped(call, 1, napi_float32_array, "actions", actions, actionsLength) ||
      !getUint(call, 2, "offset", offset) || !getUint(call, 3, "k", k)) {
    return nullptr;
  }
  const size_t dim = m.dim;
  const size_t actionDim = m.actionDim;
  if (x != nullptr && xLength < dim) {
    throwError(env, "predict: x has " + std::to_string(xLength) + " elements, needs " + std::to_string(dim));
    return nullptr;
  }
  if (offset + actionDim > actionsLength || k == 0 || k > m.maxK) {
    throwError(env, "predict: offset + actionDim must fit in actions and k must be 1.." + std::to_string(m.maxK));
    return nullptr;
  }
  const double stateScale = m.results[kStateScale];
  double* dots = m.dots;
  for (size_t j = 0; j < k; j++) {
    double dot = kBias2;
    if (x != nullptr) {
      const double* features = m.stateFeatures + j * dim;
      for (size_t i = 0; i < dim; i++) dot += (static_cast<double>(x[i]) - m.centre[i]) * stateScale * features[i];
    }
    const double* features = m.actionFeatures + j * actionDim;
    for (size_t i = 0; i < actionDim; i++) {
      dot += (static_cast<double>(actions[offset + i]) - m.actionMid) * m.inverseActionScale * features[i];
    }
    dots[j] = dot;
  }
  float* delta = m.delta;
  for (size_t i = 0; i < dim; i++) delta[i] = 0;
  const size_t outputs = dim + 1;
  double reward = 0;
  for (size_t j = 0; j < k; j++) {
    const double dot = dots[j];
    const double* row = m.alpha + j * outputs;
    for (size_t i = 0; i < dim; i++) delta[i] = static_cast<float>(static_cast<double>(delta[i]) + dot * row[i]);
    reward += dot * row[dim];
  }
  m.results[kReward] = reward;
  return undefinedValue(env);
}

// nearestRows(rows, count, dim, x, rowSlots, outSlots, outDistances): plan.ts walkFirst. The squared
// distance from x to each of the `count` rows (count x dim floats), summed in dimension order as the
// JavaScript sums it; each row in turn goes into the sorted set outSlots / outDistances (capacity:
// their length) exactly as keepNearest inserts it, its distance rounded to float as stored. Returns
// how many were kept. The JavaScript stops summing a row once it passes the set's farthest; a sum of
// squares only grows, so summing it whole and then comparing turns away the same rows.
napi_value NearestRows(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 7, "nearestRows", false)) return nullptr;
  float *rows, *x, *outDistances;
  int32_t *rowSlots, *outSlots;
  size_t rowsLength, xLength, rowSlotsLength, outSlotsLength, outDistancesLength, count, dim;
  if (!getTyped(call, 0, napi_float32_array, "rows", rows, rowsLength) || !getUint(call, 1, "count", count) ||
      !getUint(call, 2, "dim", dim) || !getTyped(call, 3, napi_float32_array, "x", x, xLength) ||
      !getTyped(call, 4, napi_int32_array, "rowSlots", rowSlots, rowSlotsLength) ||
      !getTyped(call, 5, napi_int32_array, "outSlots", outSlots, outSlotsLength) ||
      !getTyped(call, 6, napi_float32_array, "outDistances", outDistances, outDistancesLength)) {
    return nullptr;
  }
  if (count * dim > rowsLength || dim > xLength || count > rowSlotsLength || outSlotsLength == 0 ||
      outDistancesLength != outSlotsLength) {
    throwError(env, "nearestRows: rows must hold count x dim floats, x dim, rowSlots count, and outSlots and "
                    "outDistances the same non-zero length");
    return nullptr;
  }
  const size_t capacity = outSlotsLength;
  size_t kept = 0;
  // Four rows' sums side by side (four independent dependency chains instead of one), then inserted
  // in row order: each sum is still the one row's dimensions in order.
  double sums[4];
  for (size_t c = 0; c < count; c += 4) {
    const size_t block = count - c < 4 ? count - c : 4;
    for (size_t r = 0; r < 4; r++) sums[r] = 0;
    if (block == 4) {
      const float* row0 = rows + c * dim;
      const float* row1 = row0 + dim;
      const float* row2 = row1 + dim;
      const float* row3 = row2 + dim;
      for (size_t i = 0; i < dim; i++) {
        const double xi = static_cast<double>(x[i]);
        const double e0 = static_cast<double>(row0[i]) - xi;
        const double e1 = static_cast<double>(row1[i]) - xi;
        const double e2 = static_cast<double>(row2[i]) - xi;
        const double e3 = static_cast<double>(row3[i]) - xi;
        sums[0] += e0 * e0;
        sums[1] += e1 * e1;
        sums[2] += e2 * e2;
        sums[3] += e3 * e3;
      }
    } else {
      for (size_t r = 0; r < block; r++) {
        const float* row = rows + (c + r) * dim;
        for (size_t i = 0; i < dim; i++) {
          const double e = static_cast<double>(row[i]) - static_cast<double>(x[i]);
          sums[r] += e * e;
        }
      }
    }
    for (size_t r = 0; r < block; r++) {
      const double d = sums[r];
      // walkFirst's test, exactly: against +Infinity until the set is full (a row at infinite
      // distance is turned away even then; a NaN distance is not, as in JavaScript)
      const double farthest = kept == capacity ? static_cast<double>(outDistances[kept - 1]) : INFINITY;
      if (d >= farthest) continue;
      size_t at = kept < capacity ? kept : capacity - 1;
      while (at > 0 && static_cast<double>(outDistances[at - 1]) > d) {
        outSlots[at] = outSlots[at - 1];
        outDistances[at] = outDistances[at - 1];
        at--;
      }
      outSlots[at] = rowSlots[c + r];
      outDistances[at] = static_cast<float>(d);
      if (kept < capacity) kept++;
    }
  }
  napi_value result;
  napi_create_uint32(env, static_cast<uint32_t>(kept), &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"fit", nullptr, Fit, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"predict", nullptr, Predict, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value constructor;
  napi_define_class(env, "LocalModelKernels", NAPI_AUTO_LENGTH, Construct, nullptr,
                    sizeof(methods) / sizeof(methods[0]), methods, &constructor);
  napi_set_named_property(env, exports, "LocalModelKernels", constructor);
  napi_value nearestRows;
  napi_create_function(env, "nearestRows", NAPI_AUTO_LENGTH, NearestRows, nullptr, &nearestRows);
  napi_set_named_property(env, exports, "nearestRows", nearestRows);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
