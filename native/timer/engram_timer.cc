// engram's native timekeeper: a C++ thread sleeps with clock_nanosleep(CLOCK_MONOTONIC,
// TIMER_ABSTIME) until the requested moment, then wakes the JS main thread through a Node-API
// thread-safe function (a libuv async handle) that calls the JS callback with no arguments. A
// wake-up costs ~56 B on the JS heap (V8's call from C++ into JS; measured the same with a bare
// uv_async_t and napi_call_function); a worker thread's postMessage costs ~300 B per tick (a
// MessageEvent and the structured clone). The main thread's finish (finishAt) sleeps and spins
// natively: Atomics.wait with a timeout allocates ~80 B per call.
//
// Times travel in a Float64Array given at construction, not as arguments: a double passed from
// optimized JS to a native function is boxed in a heap number (16 B per call, twice per tick).
//
// CLOCK_MONOTONIC is the clock under process.hrtime (libuv's uv_hrtime), so times from
// runtime/contracts.ts monotonicNs() can be handed over as they are.
//
//   const times = new Float64Array(3)     // [0] wake at, [1] finish due, [2] finish spin (ns)
//   const ticker = new Ticker(onWake, times)   // onWake() runs on the main thread
//   times[0] = ns; ticker.wakeAt()      // one pending wake-up; a new call replaces it
//   ticker.idle()                       // after a wake-up: an idle ticker does not keep Node alive
//   times[1] = dueNs; times[2] = spinNs; ticker.finishAt()
//                                       // main thread: sleep to spinNs before dueNs, spin the rest
//   ticker.threadId()                   // the thread's Linux thread id (to give it SCHED_FIFO)
//   ticker.close()                      // stops the thread; pending wake-ups are dropped
#include <node_api.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace {

struct Ticker {
  std::thread thread;
  std::mutex mutex;
  std::condition_variable changed;
  // the requested wake-up (ns on CLOCK_MONOTONIC), -1 when none; `request` counts requests so the
  // thread notices a replacement made while it slept
  int64_t wakeAtNs = -1;
  uint64_t request = 0;
  bool stopping = false;
  napi_threadsafe_function wake = nullptr;
  bool closed = false;
  // the thread's kernel id, set by the thread as it starts (0 until then)
  int64_t threadId = 0;
  // the JS side's times (kWakeAt, kFinishDue, kFinishSpin), held alive by `timesRef` (engram never
  // transfers or detaches its buffer, which would leave this pointer dangling)
  const double* times = nullptr;
  napi_ref timesRef = nullptr;
};

// Slots of the times array.
constexpr size_t kWakeAt = 0;
constexpr size_t kFinishDue = 1;
constexpr size_t kFinishSpin = 2;
constexpr size_t kTimeSlots = 3;

// A time in ns as the addon uses it: a non-negative number that fits an int64.
bool validNs(double ns) { return ns >= 0 && ns <= 9.2e18; }

int64_t monotonicNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

// The longest single sleep, so a replaced or cancelled request is noticed within it.
constexpr int64_t kMaxSleepNs = 2000000;

void run(Ticker* ticker) {
  std::unique_lock<std::mutex> lock(ticker->mutex);
  ticker->threadId = static_cast<int64_t>(syscall(SYS_gettid));
  ticker->changed.notify_all();
  for (;;) {
    ticker->changed.wait(lock, [ticker] { return ticker->stopping || ticker->wakeAtNs >= 0; });
    if (ticker->stopping) return;
    const uint64_t request = ticker->request;
    const int64_t target = ticker->wakeAtNs;
    lock.unlock();
    bool replaced = false;
    for (;;) {
      const int64_t now = monotonicNs();
      if (now >= target) break;
      const int64_t until = target - now > kMaxSleepNs ? now + kMaxSleepNs : target;
      timespec at{static_cast<time_t>(until / 1000000000LL), static_cast<long>(until % 1000000000LL)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
      std::lock_guard<std::mutex> check(ticker->mutex);
      if (ticker->stopping || ticker->request != request) {
        replaced = true;
        break;
      }
    }
    lock.lock();
    if (ticker->stopping) return;
    if (replaced || ticker->request != request) continue;
    ticker->wakeAtNs = -1;
    // Non-blocking: the queue holds at most one call (the loop has one wake-up outstanding).
    napi_call_threadsafe_function(ticker->wake, nullptr, napi_tsfn_nonblocking);
  }
}

bool throwError(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return false;
}

// The Ticker a method was called on; throws and returns null when `this` is not a Ticker.
Ticker* thisTicker(napi_env env, napi_callback_info info) {
  napi_value self;
  void* data = nullptr;
  if (napi_get_cb_info(env, info, nullptr, nullptr, &self, nullptr) != napi_ok || napi_unwrap(env, self, &data) != napi_ok ||
      data == nullptr) {
    throwError(env, "not called on an engram Ticker");
    return nullptr;
  }
  return static_cast<Ticker*>(data);
}

void stopThread(Ticker* ticker) {
  {
    std::lock_guard<std::mutex> guard(ticker->mutex);
    ticker->stopping = true;
  }
  ticker->changed.notify_one();
  if (ticker->thread.joinable()) ticker->thread.join();
}

void finalize(napi_env env, void* data, void*) {
  auto* ticker = static_cast<Ticker*>(data);
  stopThread(ticker);
  if (ticker->timesRef != nullptr) napi_delete_reference(env, ticker->timesRef);
  delete ticker;
}

// new Ticker(onWake, times)
napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_function) {
    throwError(env, "Ticker(onWake, times): onWake must be a function");
    return nullptr;
  }
  bool isTyped = false;
  napi_typedarray_type arrayType = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (argc >= 2) napi_is_typedarray(env, argv[1], &isTyped);
  if (!isTyped || napi_get_typedarray_info(env, argv[1], &arrayType, &length, &data, nullptr, nullptr) != napi_ok ||
      arrayType != napi_float64_array || length < kTimeSlots) {
    throwError(env, "Ticker(onWake, times): times must be a Float64Array of at least 3 elements");
    return nullptr;
  }
  auto* ticker = new Ticker();
  ticker->times = static_cast<const double*>(data);
  if (napi_create_reference(env, argv[1], 1, &ticker->timesRef) != napi_ok) {
    delete ticker;
    throwError(env, "Ticker: cannot hold the times array");
    return nullptr;
  }
  napi_value name;
  napi_create_string_utf8(env, "engram ticker", NAPI_AUTO_LENGTH, &name);
  // max queue 1; the JS function is called with no arguments (call_js_cb null)
  if (napi_create_threadsafe_function(env, argv[0], nullptr, name, 1, 1, nullptr, nullptr, nullptr, nullptr,
                                      &ticker->wake) != napi_ok) {
    napi_delete_reference(env, ticker->timesRef);
    delete ticker;
    throwError(env, "Ticker: cannot create the thread-safe function");
    return nullptr;
  }
  // Not holding the process open while idle: wakeAt refs it, a delivered wake-up unrefs it (in JS).
  napi_unref_threadsafe_function(env, ticker->wake);
  ticker->thread = std::thread(run, ticker);
  {
    // threadId() is answered from the first call on
    std::unique_lock<std::mutex> lock(ticker->mutex);
    ticker->changed.wait(lock, [ticker] { return ticker->threadId != 0; });
  }
  if (napi_wrap(env, self, ticker, finalize, nullptr, nullptr) != napi_ok) {
    stopThread(ticker);
    napi_release_threadsafe_function(ticker->wake, napi_tsfn_abort);
    napi_delete_reference(env, ticker->timesRef);
    delete ticker;
    throwError(env, "Ticker: cannot wrap");
    return nullptr;
  }
  return self;
}

// wakeAt(): the one pending wake-up, at times[kWakeAt], replacing any earlier one.
napi_value WakeAt(napi_env env, napi_callback_info info) {
  Ticker* ticker = thisTicker(env, info);
  if (ticker == nullptr) return nullptr;
  const double ns = ticker->times[kWakeAt];
  if (!validNs(ns)) {
    throwError(env, "wakeAt(): times[0] must be a non-negative number of nanoseconds");
    return nullptr;
  }
  if (ticker->closed) {
    throwError(env, "wakeAt: the ticker is closed");
    return nullptr;
  }
  napi_ref_threadsafe_function(env, ticker->wake);
  {
    std::lock_guard<std::mutex> guard(ticker->mutex);
    ticker->wakeAtNs = static_cast<int64_t>(ns);
    ticker->request++;
  }
  ticker->changed.notify_one();
  return nullptr;
}

// threadId(): the ticker thread's Linux thread id, so that it alone can be given SCHED_FIFO.
napi_value ThreadId(napi_env env, napi_callback_info info) {
  Ticker* ticker = thisTicker(env, info);
  if (ticker == nullptr) return nullptr;
  napi_value id;
  napi_create_int64(env, ticker->threadId, &id);
  return id;
}

// idle(): called by JS after a wake-up was delivered, so an idle ticker does not keep Node alive.
napi_value Idle(napi_env env, napi_callback_info info) {
  Ticker* ticker = thisTicker(env, info);
  if (ticker == nullptr || ticker->closed) return nullptr;
  napi_unref_threadsafe_function(env, ticker->wake);
  return nullptr;
}

// finishAt(): on the calling (main) thread, sleeps with clock_nanosleep until times[kFinishSpin]
// before times[kFinishDue], then spins on the clock to it. The JS equivalent (Atomics.wait with a
// timeout, then clock reads) allocates ~90 B per call on the JS heap.
napi_value FinishAt(napi_env env, napi_callback_info info) {
  Ticker* ticker = thisTicker(env, info);
  if (ticker == nullptr) return nullptr;
  const double due = ticker->times[kFinishDue];
  const double spin = ticker->times[kFinishSpin];
  if (!validNs(due) || !validNs(spin)) {
    throwError(env, "finishAt(): times[1] and times[2] must be non-negative numbers of nanoseconds");
    return nullptr;
  }
  const int64_t dueNs = static_cast<int64_t>(due);
  const int64_t sleepUntil = dueNs - static_cast<int64_t>(spin);
  if (monotonicNs() < sleepUntil) {
    timespec at{static_cast<time_t>(sleepUntil / 1000000000LL), static_cast<long>(sleepUntil % 1000000000LL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
  }
  while (monotonicNs() < dueNs) {
  }
  return nullptr;
}

napi_value Close(napi_env env, napi_callback_info info) {
  Ticker* ticker = thisTicker(env, info);
  if (ticker == nullptr || ticker->closed) return nullptr;
  ticker->closed = true;
  stopThread(ticker);
  napi_release_threadsafe_function(ticker->wake, napi_tsfn_abort);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"wakeAt", nullptr, WakeAt, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"idle", nullptr, Idle, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threadId", nullptr, ThreadId, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"finishAt", nullptr, FinishAt, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value constructor;
  napi_define_class(env, "Ticker", NAPI_AUTO_LENGTH, Construct, nullptr, sizeof(methods) / sizeof(methods[0]), methods,
                    &constructor);
  napi_set_named_property(env, exports, "Ticker", constructor);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
