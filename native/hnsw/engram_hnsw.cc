// engram's binding to hnswlib (third_party/hnswlib: the copy hnswlib-node ships, with no-op locks and
// a dense label table to save ~100 bytes per element, ENGRAM.md there; the index file format is the same):
// vectors cross as Float32Array views with an offset, and search results are written into
// caller-owned Int32Array / Float32Array, so a search or an insert allocates nothing on the JS heap.
// hnswlib-node's own binding takes a number[] (one heap number per element read) and returns a new
// object of two arrays per search: ~1.2 KB per brain step at 16 dimensions (docs/brain.md).
//
// Plain Node-API (node_api.h), no node-addon-api: every entry point checks its arguments and
// throws a JS Error with a message; hnswlib's C++ exceptions become JS Errors too.
#include <node_api.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "engram_napi.h"
#include "hnswlib/hnswlib.h"
#include "move.h"

namespace {

using engram::getTyped;
using engram::getUint;
using engram::getWholeNumber;
using engram::kMaxExactInteger;
using engram::readArguments;
using engram::throwError;
using engram::undefinedValue;

struct Index {
  size_t dim = 0;
  std::unique_ptr<hnswlib::L2Space> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  // an async writeIndex is reading the graph on a worker thread
  bool writing = false;
  // moves an existing label to a new vector (move.h); hnswlibMove: hnswlib's updatePoint instead,
  // the reference that benchmarks and tests compare with (setMoveMethod)
  engram::Mover mover;
  bool hnswlibMove = false;
};

constexpr size_t kMaxArgs = 8;

struct Call {
  napi_env env;
  napi_value self;
  napi_value argv[kMaxArgs];
  size_t argc = kMaxArgs;
  Index* index = nullptr;
};

enum Need { kAnything, kIndex, kMutableIndex, kReplaceIndex };

// Reads the call's arguments and the wrapped Index. kIndex requires initIndex/readIndexSync first;
// kMutableIndex also refuses while writeIndex is reading the graph (searches may run meanwhile);
// kReplaceIndex (initIndex, readIndexSync) needs no index but refuses during a write too.
bool begin(napi_env env, napi_callback_info info, Call& call, size_t minArgs, Need need, const char* name) {
  if (!readArguments(env, info, call, minArgs, name)) return false;
  void* data = nullptr;
  if (napi_unwrap(env, call.self, &data) != napi_ok || data == nullptr) {
    return throwError(env, std::string(name) + ": not called on an engram HNSW index");
  }
  call.index = static_cast<Index*>(data);
  if ((need == kIndex || need == kMutableIndex) && !call.index->hnsw) {
    return throwError(env, std::string(name) + ": the index is not initialised (initIndex or readIndexSync first)");
  }
  if ((need == kMutableIndex || need == kReplaceIndex) && call.index->writing) {
    return throwError(env, std::string(name) + ": an index file is being written; wait for writeIndex");
  }
  return true;
}

// A vector argument (Float32Array, element offset): a pointer to dim floats inside it.
bool getVector(Call& call, size_t arrayArg, size_t offsetArg, const char* what, const float*& out) {
  float* data = nullptr;
  size_t length = 0;
  uint32_t offset = 0;
  if (!getTyped(call, arrayArg, napi_float32_array, what, data, length)) return false;
  if (!getUint(call, offsetArg, "offset", offset)) return false;
  if (static_cast<size_t>(offset) + call.index->dim > length) {
    return throwError(call.env, std::string(what) + ": offset " + std::to_string(offset) + " + dim " +
                                    std::to_string(call.index->dim) + " exceeds its length " + std::to_string(length));
  }
  out = data + offset;
  return true;
}

// hnswlib's saveIndex does not check its stream: a missing directory or a full disk leaves no file or
// a short one and no error. The file's size is known from the graph, so check it after writing.
void checkedSave(hnswlib::HierarchicalNSW<float>& hnsw, const std::string& path) {
  size_t expected = sizeof(hnsw.offsetLevel0_) + sizeof(hnsw.max_elements_) + sizeof(size_t) +
                    sizeof(hnsw.size_data_per_element_) + sizeof(hnsw.label_offset_) + sizeof(hnsw.offsetData_) +
                    sizeof(hnsw.maxlevel_) + sizeof(hnsw.enterpoint_node_) + sizeof(hnsw.maxM_) + sizeof(hnsw.maxM0_) +
                    sizeof(hnsw.M_) + sizeof(hnsw.mult_) + sizeof(hnsw.ef_construction_);
  const size_t count = hnsw.cur_element_count;
  expected += count * hnsw.size_data_per_element_;
  for (size_t i = 0; i < count; i++) {
    const int levels = hnsw.element_levels_[i];
    expected += sizeof(unsigned int) + (levels > 0 ? hnsw.size_links_per_element_ * levels : 0);
  }
  hnsw.saveIndex(path);
  struct stat info;
  if (stat(path.c_str(), &info) != 0) throw std::runtime_error("the file was not created");
  if (static_cast<size_t>(info.st_size) != expected) {
    throw std::runtime_error("wrote " + std::to_string(info.st_size) + " of " + std::to_string(expected) +
                             " bytes (disk full?)");
  }
}

napi_value numberValue(napi_env env, double number) {
  napi_value value;
  napi_create_double(env, number, &value);
  return value;
}

template <typename F>
napi_value guarded(napi_env env, const char* name, F&& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    throwError(env, std::string(name) + ": " + error.what());
    return nullptr;
  }
}

// new Index(dim)
napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  double dim = 0;
  if (argc < 1 || napi_get_value_double(env, argv[0], &dim) != napi_ok || !(dim >= 1) || dim > 65536 ||
      dim != static_cast<double>(static_cast<uint32_t>(dim))) {
    throwError(env, "engram HNSW index: dim must be an integer in [1, 65536]");
    return nullptr;
  }
  auto* index = new Index();
  index->dim = static_cast<size_t>(dim);
  index->space = std::make_unique<hnswlib::L2Space>(index->dim);
  napi_status status = napi_wrap(
      env, self, index, [](napi_env, void* data, void*) { delete static_cast<Index*>(data); }, nullptr, nullptr);
  if (status != napi_ok) {
    delete index;
    throwError(env, "engram HNSW index: cannot wrap the native index");
    return nullptr;
  }
  return self;
}

// initIndex(maxElements, M, efConstruction, seed)
napi_value InitIndex(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 4, kReplaceIndex, "initIndex")) return nullptr;
  uint32_t maxElements, m, efConstruction, seed;
  if (!getUint(call, 0, "maxElements", maxElements) || !getUint(call, 1, "M", m) ||
      !getUint(call, 2, "efConstruction", efConstruction) || !getUint(call, 3, "seed", seed)) {
    return nullptr;
  }
  if (m < 2) return throwError(env, "initIndex: M must be at least 2"), nullptr;
  return guarded(env, "initIndex", [&] {
    call.index->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(call.index->space.get(), maxElements, m,
                                                                        efConstruction, seed, false);
    return undefinedValue(env);
  });
}

// The calls that take one non-negative integer and hand it to hnswlib.
template <typename Apply>
napi_value withOneUint(napi_env env, napi_callback_info info, Need need, const char* name, const char* what,
                       Apply&& apply) {
  Call call;
  if (!begin(env, info, call, 1, need, name)) return nullptr;
  uint32_t value;
  if (!getUint(call, 0, what, value)) return nullptr;
  return guarded(env, name, [&] {
    apply(*call.index->hnsw, value);
    return undefinedValue(env);
  });
}

using Hnsw = hnswlib::HierarchicalNSW<float>;

napi_value ResizeIndex(napi_env env, napi_callback_info info) {
  return withOneUint(env, info, kMutableIndex, "resizeIndex", "maxElements",
                     [](Hnsw& hnsw, uint32_t maxElements) { hnsw.resizeIndex(maxElements); });
}

napi_value SetEf(napi_env env, napi_callback_info info) {
  return withOneUint(env, info, kIndex, "setEf", "ef", [](Hnsw& hnsw, uint32_t ef) { hnsw.setEf(ef); });
}

// addPoint(vectors: Float32Array, offset, label): insert, or move an existing label to the vector
// (a deleted one is undeleted first, as hnswlib's addPoint does)
napi_value AddPoint(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 3, kMutableIndex, "addPoint")) return nullptr;
  const float* vector = nullptr;
  uint32_t label;
  if (!getVector(call, 0, 1, "addPoint vectors", vector) || !getUint(call, 2, "label", label)) return nullptr;
  return guarded(env, "addPoint", [&] {
    Index& index = *call.index;
    Hnsw& hnsw = *index.hnsw;
    const hnswlib::tableint id = hnsw.label_lookup_.find(label);
    if (index.hnswlibMove || id == hnswlib::DenseLabelTable::kAbsent) {
      hnsw.addPoint(vector, label, false);
    } else {
      if (hnsw.isMarkedDeleted(id)) hnsw.unmarkDeletedInternal(id);
      index.mover.move(hnsw, vector, id);
    }
    return undefinedValue(env);
  });
}

// setMoveMethod("engram" | "hnswlib"): how addPoint moves an existing label (default engram: the
// same graph as hnswlib's updatePoint, faster; move.h)
napi_value SetMoveMethod(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 1, kAnything, "setMoveMethod")) return nullptr;
  char method[16];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, call.argv[0], method, sizeof(method), &length) != napi_ok ||
      (std::strcmp(method, "engram") != 0 && std::strcmp(method, "hnswlib") != 0)) {
    return throwError(env, "setMoveMethod: expected \"engram\" or \"hnswlib\""), nullptr;
  }
  call.index->hnswlibMove = std::strcmp(method, "hnswlib") == 0;
  return undefinedValue(env);
}

napi_value MarkDelete(napi_env env, napi_callback_info info) {
  return withOneUint(env, info, kMutableIndex, "markDelete", "label",
                     [](Hnsw& hnsw, uint32_t label) { hnsw.markDelete(label); });
}

napi_value UnmarkDelete(napi_env env, napi_callback_info info) {
  return withOneUint(env, info, kMutableIndex, "unmarkDelete", "label",
                     [](Hnsw& hnsw, uint32_t label) { hnsw.unmarkDelete(label); });
}

// searchKnn(query: Float32Array, queryOffset, k, outLabels: Int32Array, outDistances: Float32Array,
// outOffset): the number of neighbours written, nearest first, from outOffset on.
napi_value SearchKnn(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 6, kIndex, "searchKnn")) return nullptr;
  const float* query = nullptr;
  uint32_t k, outOffset;
  int32_t* labels = nullptr;
  float* distances = nullptr;
  size_t labelsLength = 0, distancesLength = 0;
  if (!getVector(call, 0, 1, "searchKnn query", query) || !getUint(call, 2, "k", k) ||
      !getTyped(call, 3, napi_int32_array, "searchKnn outLabels", labels, labelsLength) ||
      !getTyped(call, 4, napi_float32_array, "searchKnn outDistances", distances, distancesLength) ||
      !getUint(call, 5, "outOffset", outOffset)) {
    return nullptr;
  }
  const size_t room = std::min(labelsLength, distancesLength);
  if (static_cast<size_t>(outOffset) + k > room) {
    return throwError(env, "searchKnn: outOffset + k exceeds the output arrays"), nullptr;
  }
  return guarded(env, "searchKnn", [&] {
    auto result = call.index->hnsw->searchKnn(query, k);
    // hnswlib's queue pops the farthest first: fill from the back so the nearest comes first.
    const size_t count = result.size();
    for (size_t i = count; i-- > 0;) {
      labels[outOffset + i] = static_cast<int32_t>(result.top().second);
      distances[outOffset + i] = result.top().first;
      result.pop();
    }
    napi_value value;
    napi_create_uint32(env, static_cast<uint32_t>(count), &value);
    return value;
  });
}

// getPoint(label, out: Float32Array, outOffset): copies the stored vector of a live label.
napi_value GetPoint(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 3, kIndex, "getPoint")) return nullptr;
  uint32_t label, outOffset;
  float* out = nullptr;
  size_t length = 0;
  if (!getUint(call, 0, "label", label) || !getTyped(call, 1, napi_float32_array, "getPoint out", out, length) ||
      !getUint(call, 2, "outOffset", outOffset)) {
    return nullptr;
  }
  if (static_cast<size_t>(outOffset) + call.index->dim > length) {
    return throwError(env, "getPoint: outOffset + dim exceeds the output array"), nullptr;
  }
  return guarded(env, "getPoint", [&] {
    std::vector<float> point = call.index->hnsw->getDataByLabel<float>(label);
    std::memcpy(out + outOffset, point.data(), call.index->dim * sizeof(float));
    return undefinedValue(env);
  });
}

// getIdsList(): every label in the index, deleted ones included (start-up only: allocates).
napi_value GetIdsList(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 0, kIndex, "getIdsList")) return nullptr;
  auto& hnsw = *call.index->hnsw;
  napi_value list;
  napi_create_array_with_length(env, hnsw.label_lookup_.size(), &list);
  uint32_t i = 0;
  hnsw.label_lookup_.forEach([&](hnswlib::labeltype labelValue, hnswlib::tableint) {
    napi_value label;
    napi_create_uint32(env, static_cast<uint32_t>(labelValue), &label);
    napi_set_element(env, list, i++, label);
  });
  return list;
}

napi_value GetMaxElements(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 0, kIndex, "getMaxElements")) return nullptr;
  return numberValue(env, static_cast<double>(call.index->hnsw->getMaxElements()));
}

napi_value GetCurrentCount(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 0, kIndex, "getCurrentCount")) return nullptr;
  return numberValue(env, static_cast<double>(call.index->hnsw->getCurrentElementCount()));
}

napi_value GetNumDimensions(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 0, kAnything, "getNumDimensions")) return nullptr;
  return numberValue(env, static_cast<double>(call.index->dim));
}

bool getPath(Call& call, size_t i, std::string& out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(call.env, call.argv[i], nullptr, 0, &length) != napi_ok) {
    return throwError(call.env, "the path must be a string");
  }
  out.resize(length + 1);
  napi_get_value_string_utf8(call.env, call.argv[i], out.data(), length + 1, &length);
  out.resize(length);
  return true;
}

napi_value WriteIndexSync(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 1, kMutableIndex, "writeIndexSync")) return nullptr;
  std::string path;
  if (!getPath(call, 0, path)) return nullptr;
  return guarded(env, ("writeIndexSync " + path).c_str(), [&] {
    checkedSave(*call.index->hnsw, path);
    return undefinedValue(env);
  });
}

// hnswlib's loadIndex (same checks, same allocations, same order), reading the index from the
// `length` bytes at `offset` of `path` rather than from a whole file: a snapshot's HNSW section is
// read in place, with no temporary copy of it (hundreds of MB at 1e6 experiences). Positions are
// relative to `offset`; the index must end exactly at offset + length.
std::unique_ptr<hnswlib::HierarchicalNSW<float>> loadIndexAt(hnswlib::SpaceInterface<float>* space,
                                                             const std::string& path, uint64_t offset,
                                                             uint64_t length) {
  std::ifstream input(path, std::ios::binary);
  if (!input.is_open()) throw std::runtime_error("cannot open " + path);
  input.seekg(0, input.end);
  const std::streamoff fileSize = input.tellg();
  const std::streamoff begin = static_cast<std::streamoff>(offset);
  const std::streamoff end = begin + static_cast<std::streamoff>(length);
  if (end > fileSize) {
    throw std::runtime_error("the index at " + std::to_string(offset) + " + " + std::to_string(length) +
                             " runs past the end of the file (" + std::to_string(fileSize) + " bytes)");
  }
  input.seekg(begin, input.beg);
  auto owned = std::make_unique<hnswlib::HierarchicalNSW<float>>(space);
  auto& h = *owned;
  using hnswlib::readBinaryPOD;
  readBinaryPOD(input, h.offsetLevel0_);
  readBinaryPOD(input, h.max_elements_);
  // cur_element_count stays 0 until element_levels_ holds every element: the destructor (a throw
  // below) frees per-element lists by it.
  size_t count = 0;
  readBinaryPOD(input, count);
  const size_t maxElements = h.max_elements_;
  readBinaryPOD(input, h.size_data_per_element_);
  readBinaryPOD(input, h.label_offset_);
  readBinaryPOD(input, h.offsetData_);
  readBinaryPOD(input, h.maxlevel_);
  readBinaryPOD(input, h.enterpoint_node_);
  readBinaryPOD(input, h.maxM_);
  readBinaryPOD(input, h.maxM0_);
  readBinaryPOD(input, h.M_);
  readBinaryPOD(input, h.mult_);
  readBinaryPOD(input, h.ef_construction_);
  if (!input) throw std::runtime_error("the index header is cut short");
  if (count > maxElements) throw std::runtime_error("the index seems corrupted (more elements than its capacity)");
  h.data_size_ = space->get_data_size();
  h.fstdistfunc_ = space->get_dist_func();
  h.dist_func_param_ = space->get_dist_func_param();

  // hnswlib's own check: walk the upper-level lists to see that the index ends where it should.
  // Positions are counted here rather than asked of the stream: hnswlib's tellg and seekg per
  // element cost a system call each (2 s of a 1e6-element restore).
  const std::streamoff levelsAt = input.tellg();
  std::streamoff at = levelsAt + static_cast<std::streamoff>(count * h.size_data_per_element_);
  input.seekg(at, input.beg);
  for (size_t i = 0; i < count; i++) {
    if (at < begin || at >= end) throw std::runtime_error("the index seems corrupted or unsupported");
    unsigned int linkListSize = 0;
    readBinaryPOD(input, linkListSize);
    if (!input) throw std::runtime_error("the index seems corrupted or unsupported (cut short)");
    at += static_cast<std::streamoff>(sizeof(linkListSize)) + linkListSize;
    if (linkListSize != 0) input.ignore(linkListSize);
  }
  if (at != end) throw std::runtime_error("the index seems corrupted or unsupported (wrong length)");
  input.clear();
  input.seekg(levelsAt, input.beg);

  h.data_level0_memory_ = static_cast<char*>(malloc(maxElements * h.size_data_per_element_));
  if (h.data_level0_memory_ == nullptr) throw std::runtime_error("not enough memory for level 0");
  input.read(h.data_level0_memory_, static_cast<std::streamsize>(count * h.size_data_per_element_));
  h.size_links_per_element_ = h.maxM_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  h.size_links_level0_ = h.maxM0_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  std::vector<hnswlib::NoLock>(maxElements).swap(h.link_list_locks_);
  std::vector<hnswlib::NoLock>(hnswlib::HierarchicalNSW<float>::MAX_LABEL_OPERATION_LOCKS).swap(h.label_op_locks_);
  h.visited_list_pool_.reset(new hnswlib::VisitedListPool(1, maxElements));
  h.linkLists_ = static_cast<char**>(malloc(sizeof(void*) * maxElements));
  if (h.linkLists_ == nullptr) throw std::runtime_error("not enough memory for the link lists");
  h.element_levels_ = std::vector<int>(maxElements);
  h.cur_element_count = count;
  h.revSize_ = 1.0 / h.mult_;
  h.ef_ = 10;
  for (size_t i = 0; i < count; i++) {
    h.label_lookup_.set(h.getExternalLabel(i), i);
    unsigned int linkListSize = 0;
    readBinaryPOD(input, linkListSize);
    if (linkListSize == 0) {
      h.element_levels_[i] = 0;
      h.linkLists_[i] = nullptr;
    } else {
      h.element_levels_[i] = linkListSize / h.size_links_per_element_;
      h.linkLists_[i] = static_cast<char*>(malloc(linkListSize));
      if (h.linkLists_[i] == nullptr) throw std::runtime_error("not enough memory for a link list");
      input.read(h.linkLists_[i], linkListSize);
    }
  }
  if (!input) throw std::runtime_error("short read of the index");
  for (size_t i = 0; i < count; i++) {
    if (h.isMarkedDeleted(i)) h.num_deleted_ += 1;
  }
  return owned;
}

// The file does not name its dimension; hnswlib takes it from the space. Its per-element size
// (links + vector + label) does give it away.
void checkDimension(const hnswlib::HierarchicalNSW<float>& loaded, size_t dim) {
  const size_t fileVectorBytes = loaded.size_data_per_element_ - loaded.size_links_level0_ - sizeof(hnswlib::labeltype);
  if (fileVectorBytes != dim * sizeof(float)) {
    throw std::runtime_error("the file holds vectors of " + std::to_string(fileVectorBytes / sizeof(float)) +
                             " dimensions, this index has " + std::to_string(dim));
  }
}

// readIndexSync(path): replaces the index with the file's (hnswlib's format; hnswlib-node's too).
napi_value ReadIndexSync(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 1, kReplaceIndex, "readIndexSync")) return nullptr;
  std::string path;
  if (!getPath(call, 0, path)) return nullptr;
  return guarded(env, ("readIndexSync " + path).c_str(), [&] {
    struct stat file;
    if (stat(path.c_str(), &file) != 0) throw std::runtime_error("cannot open " + path);
    auto loaded = loadIndexAt(call.index->space.get(), path, 0, static_cast<uint64_t>(file.st_size));
    checkDimension(*loaded, call.index->dim);
    call.index->hnsw = std::move(loaded);
    return undefinedValue(env);
  });
}

// readIndexAtSync(path, offset, length): the same from `length` bytes at `offset` of the file (an
// index stored inside another file, such as a snapshot's HNSW section).
napi_value ReadIndexAtSync(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 3, kReplaceIndex, "readIndexAtSync")) return nullptr;
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  if (!getPath(call, 0, path) || !getWholeNumber(call, 1, "offset", kMaxExactInteger, offset) ||
      !getWholeNumber(call, 2, "length", kMaxExactInteger, length)) {
    return nullptr;
  }
  return guarded(env, ("readIndexAtSync " + path).c_str(), [&] {
    auto loaded = loadIndexAt(call.index->space.get(), path, offset, length);
    checkDimension(*loaded, call.index->dim);
    call.index->hnsw = std::move(loaded);
    return undefinedValue(env);
  });
}

// writeIndex(path): Promise; hnswlib writes the file on a worker thread. Until it settles every other
// call on this index throws (the graph must not change while it is read).
struct WriteJob {
  Index* index;
  std::string path;
  std::string error;
  napi_deferred deferred;
  napi_async_work work;
  napi_ref self;
};

napi_value WriteIndex(napi_env env, napi_callback_info info) {
  Call call;
  if (!begin(env, info, call, 1, kMutableIndex, "writeIndex")) return nullptr;
  auto* job = new WriteJob();
  job->index = call.index;
  if (!getPath(call, 0, job->path)) {
    delete job;
    return nullptr;
  }
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_reference(env, call.self, 1, &job->self);  // keeps the index alive until the write ends
  napi_create_string_utf8(env, "engram.hnsw.writeIndex", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      env, nullptr, name,
      [](napi_env, void* data) {
        auto* job = static_cast<WriteJob*>(data);
        try {
          checkedSave(*job->index->hnsw, job->path);
        } catch (const std::exception& error) {
          job->error = error.what();
        }
      },
      [](napi_env env, napi_status status, void* data) {
        auto* job = static_cast<WriteJob*>(data);
        job->index->writing = false;
        if (status == napi_ok && job->error.empty()) {
          napi_resolve_deferred(env, job->deferred, undefinedValue(env));
        } else {
          napi_value message, error;
          std::string text = "writeIndex " + job->path + ": " + (job->error.empty() ? "cancelled" : job->error);
          napi_create_string_utf8(env, text.c_str(), NAPI_AUTO_LENGTH, &message);
          napi_create_error(env, nullptr, message, &error);
          napi_reject_deferred(env, job->deferred, error);
        }
        napi_delete_reference(env, job->self);
        napi_delete_async_work(env, job->work);
        delete job;
      },
      job, &job->work);
  call.index->writing = true;
  napi_queue_async_work(env, job->work);
  return promise;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"initIndex", nullptr, InitIndex, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"resizeIndex", nullptr, ResizeIndex, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setEf", nullptr, SetEf, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addPoint", nullptr, AddPoint, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"markDelete", nullptr, MarkDelete, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setMoveMethod", nullptr, SetMoveMethod, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unmarkDelete", nullptr, UnmarkDelete, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"searchKnn", nullptr, SearchKnn, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getPoint", nullptr, GetPoint, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getIdsList", nullptr, GetIdsList, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getMaxElements", nullptr, GetMaxElements, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getCurrentCount", nullptr, GetCurrentCount, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getNumDimensions", nullptr, GetNumDimensions, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"writeIndexSync", nullptr, WriteIndexSync, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"readIndexSync", nullptr, ReadIndexSync, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"readIndexAtSync", nullptr, ReadIndexAtSync, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"writeIndex", nullptr, WriteIndex, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value constructor;
  napi_define_class(env, "HierarchicalNSW", NAPI_AUTO_LENGTH, Construct, nullptr, sizeof(methods) / sizeof(methods[0]),
                    methods, &constructor);
  napi_set_named_property(env, exports, "HierarchicalNSW", constructor);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
