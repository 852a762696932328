// Argument reading shared by engram's Node-API addons (native/hnsw, native/kernels): every entry point
// checks its arguments and throws a JS Error with a message naming the argument and what was expected.
// `Call` is the addon's own call record: it has `env`, `self`, `argv[]` and `argc` (the array's size
// before reading).
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace engram {

inline bool throwError(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return false;
}

inline napi_value undefinedValue(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

// Reads the call's arguments into `call`; at least `minArgs` of them.
template <typename Call>
bool readArguments(napi_env env, napi_callback_info info, Call& call, size_t minArgs, const char* name) {
  call.env = env;
  if (napi_get_cb_info(env, info, &call.argc, call.argv, &call.self, nullptr) != napi_ok) {
    return throwError(env, std::string(name) + ": cannot read the arguments");
  }
  if (call.argc < minArgs) {
    return throwError(env, std::string(name) + ": expected " + std::to_string(minArgs) + " arguments, got " +
                               std::to_string(call.argc));
  }
  return true;
}

// The largest integer a JS number holds exactly (2^53): the bound for byte positions.
constexpr double kMaxExactInteger = 9007199254740992.0;

// Argument i as an integer in [0, limit] (limit at most kMaxExactInteger).
template <typename Call, typename Unsigned>
bool getWholeNumber(Call& call, size_t i, const char* what, double limit, Unsigned& out) {
  double value = 0;
  if (napi_get_value_double(call.env, call.argv[i], &value) != napi_ok || !(value >= 0) || value > limit ||
      value != static_cast<double>(static_cast<uint64_t>(value))) {
    return throwError(call.env, std::string(what) + " must be a non-negative integer");
  }
  out = static_cast<Unsigned>(value);
  return true;
}

// Argument i as an integer in [0, 2^32).
template <typename Call, typename Unsigned>
bool getUint(Call& call, size_t i, const char* what, Unsigned& out) {
  return getWholeNumber(call, i, what, 4294967295.0, out);
}

inline const char* typeName(napi_typedarray_type type) {
  switch (type) {
    case napi_float64_array:
      return "a Float64Array";
    case napi_float32_array:
      return "a Float32Array";
    case napi_int32_array:
      return "an Int32Array";
    default:
      return "a typed array";
  }
}

// Argument i as a typed array of type `want`: its data pointer and length in elements.
template <typename Call, typename T>
bool getTyped(Call& call, size_t i, napi_typedarray_type want, const char* what, T*& data, size_t& length) {
  bool isTyped = false;
  napi_is_typedarray(call.env, call.argv[i], &isTyped);
  napi_typedarray_type type;
  void* raw = nullptr;
  if (!isTyped || napi_get_typedarray_info(call.env, call.argv[i], &type, &length, &raw, nullptr, nullptr) != napi_ok ||
      type != want) {
    return throwError(call.env, std::string(what) + " must be " + typeName(want));
  }
  data = static_cast<T*>(raw);
  return true;
}

}  // namespace engram
