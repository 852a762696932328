// Moving an element of an hnswlib graph to a new vector (evict + slot reuse in engram's memory)
// without hnswlib's per-move heap work. hnswlib's updatePoint re-selects the links of every old
// neighbour of the moved element over its one- and two-hop neighbourhood; it builds that
// neighbourhood in std::unordered_set (a heap node per member, ~300 members at M = 12), a fresh
// std::priority_queue per neighbour and two more containers inside each getNeighborsByHeuristic2,
// and copies every link list it reads into a new std::vector. Mover::move does the same selection
// over reused flat buffers and a small stamped hash table, and then calls hnswlib's own
// repairConnectionsForUpdate for the moved element's new links, as updatePoint does.
//
// Same graph as updatePoint(vector, id, 1.0): the candidate set, the efConstruction nearest of it,
// the heuristic's choice and the order links are written in are all decided by distances; only
// exact distance ties (identical vectors) may be ordered differently, because updatePoint's order
// among ties follows unordered_set buckets. test/brain/similarity/hnsw-binding.test.ts compares the
// index file after thousands of moves with updatePoint's, byte for byte.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include "hnswlib/hnswlib.h"

namespace engram {

using hnswlib::tableint;
using Hnsw = hnswlib::HierarchicalNSW<float>;
using Scored = std::pair<float, uint32_t>;  // (distance, position among the candidates)

class Mover {
 public:
  // Moves internal element `id` of `hnsw` to `vector` (dim floats), as hnsw.updatePoint(vector, id, 1.0).
  void move(Hnsw& hnsw, const void* vector, tableint id) {
    std::memcpy(hnsw.getDataByInternalId(id), vector, hnsw.data_size_);
    const int maxLevel = hnsw.maxlevel_;
    const tableint entryPoint = hnsw.enterpoint_node_;
    if (entryPoint == id && hnsw.cur_element_count == 1) return;
    reserve(hnsw.maxM0_);
    const int elementLevel = hnsw.element_levels_[id];
    for (int layer = 0; layer <= elementLevel; layer++) relinkNeighbours(hnsw, id, layer);
    hnsw.repairConnectionsForUpdate(vector, entryPoint, id, elementLevel, maxLevel);
  }

 private:
  // Per layer: the candidates (updatePoint's sCand: the element, its neighbours, theirs) by position,
  // and a symmetric matrix of their squared distances filled as needed. Every neighbour's selection
  // and heuristic compares pairs from this one set, so a pair is computed once per move instead of
  // once per neighbour that meets it (~20x fewer distances for an element with 20 links).
  //
  // Which ids are candidates already, and at which position: an open-addressing table sized for the
  // most candidates a layer can have (1 + maxM0 + maxM0^2), its entries stamped per pass, so the
  // mover's memory depends on M, not on the number of elements (the brain's bytes per experience).
  struct Entry {
    uint32_t stamp = 0;  // == epoch_: the entry belongs to this pass
    tableint id = 0;
    uint32_t position = 0;
  };
  std::vector<Entry> table_;
  uint32_t epoch_ = 0;
  std::vector<tableint> candidates_;
  std::vector<uint32_t> neighbours_;  // updatePoint's sNeigh, as positions in candidates_
  std::vector<float> distances_;      // candidates_.size() squared; NaN until computed
  std::vector<Scored> nearest_;       // (distance, position) of the efConstruction nearest, nearest first
  std::vector<Scored> chosen_;        // the heuristic's choice, nearest first

  // A power of two at least twice the most candidates a layer can have: probes stay short.
  void reserve(size_t maxLinks) {
    const size_t most = 1 + maxLinks + maxLinks * maxLinks;
    size_t size = 1;
    while (size < 2 * most) size <<= 1;
    if (table_.size() < size) {
      table_.assign(size, Entry());
      epoch_ = 0;
    }
  }

  void nextEpoch() {
    if (++epoch_ == 0) {  // wrapped: clear the stamps so an old one cannot match
      std::fill(table_.begin(), table_.end(), Entry());
      epoch_ = 1;
    }
  }

  // The candidate's position, added at the end if it is new this pass.
  uint32_t addCandidate(tableint candidate) {
    const size_t mask = table_.size() - 1;
    size_t at = (static_cast<size_t>(candidate) * 2654435761u) & mask;
    while (table_[at].stamp == epoch_) {
      if (table_[at].id == candidate) return table_[at].position;
      at = (at + 1) & mask;
    }
    const uint32_t position = static_cast<uint32_t>(candidates_.size());
    table_[at] = Entry{epoch_, candidate, position};
    candidates_.push_back(candidate);
    return position;
  }

  // Squared L2 distance between the candidates at positions a and b (hnswlib's own distance
  // function; it is symmetric bit for bit: the same squares summed in the same order).
  float distance(const Hnsw& hnsw, uint32_t a, uint32_t b) {
    const size_t count = candidates_.size();
    float& cached = distances_[a * count + b];
    if (cached == cached) return cached;
    cached = hnsw.fstdistfunc_(hnsw.getDataByInternalId(candidates_[a]), hnsw.getDataByInternalId(candidates_[b]),
                               hnsw.dist_func_param_);
    distances_[b * count + a] = cached;
    return cached;
  }

  // Appends the links of `element` at `layer` through `visit`, under the element's link lock.
  template <typename Visit>
  static void forEachLink(Hnsw& hnsw, tableint element, int layer, Visit&& visit) {
    std::unique_lock<hnswlib::NoLock> lock(hnsw.link_list_locks_[element]);
    hnswlib::linklistsizeint* list = hnsw.get_linklist_at_level(element, layer);
    const unsigned short count = hnsw.getListCount(list);
    const tableint* links = reinterpret_cast<const tableint*>(list + 1);
    for (unsigned short i = 0; i < count; i++) visit(links[i]);
  }

  void relinkNeighbours(Hnsw& hnsw, tableint id, int layer) {
    nextEpoch();
    candidates_.clear();
    neighbours_.clear();
    forEachLink(hnsw, id, layer, [&](tableint neighbour) { neighbours_.push_back(neighbour); });
    if (neighbours_.empty()) return;
    addCandidate(id);
    std::uniform_real_distribution<float> draw(0.0, 1.0);
    for (uint32_t& neighbour : neighbours_) {
      const tableint neighbourId = neighbour;
      neighbour = addCandidate(neighbourId);
      // updatePoint draws once per neighbour to decide whether to repair it (always, at
      // probability 1): draw too, so the index's generator stays where updatePoint leaves it
      draw(hnsw.update_probability_generator_);
      forEachLink(hnsw, neighbourId, layer, [&](tableint twoHop) { addCandidate(twoHop); });
    }
    const size_t count = candidates_.size();
    distances_.assign(count * count, std::numeric_limits<float>::quiet_NaN());
    // a link list has no repeats (hnswlib writes each from a set), so neighbours_ is updatePoint's sNeigh
    const size_t maxLinks = layer == 0 ? hnsw.maxM0_ : hnsw.maxM_;
    for (const uint32_t neighbour : neighbours_) {
      selectNearest(hnsw, neighbour);
      selectByHeuristic(hnsw, maxLinks);
      writeLinks(hnsw, candidates_[neighbour], layer);
    }
  }

  // The efConstruction candidates nearest to the one at `neighbour` (itself excluded), into
  // nearest_ in the order hnswlib's heuristic takes them: ascending distance, and on a tie the larger
  // id first (it pops a max-heap of (-distance, id)).
  void selectNearest(const Hnsw& hnsw, uint32_t neighbour) {
    const uint32_t count = static_cast<uint32_t>(candidates_.size());
    nearest_.clear();
    for (uint32_t candidate = 0; candidate < count; candidate++) {
      if (candidate != neighbour) nearest_.emplace_back(distance(hnsw, neighbour, candidate), candidate);
    }
    const auto nearerFirst = [this](const Scored& a, const Scored& b) {
      return a.first < b.first || (a.first == b.first && candidates_[a.second] > candidates_[b.second]);
    };
    if (nearest_.size() > hnsw.ef_construction_) {
      std::nth_element(nearest_.begin(), nearest_.begin() + hnsw.ef_construction_, nearest_.end(), nearerFirst);
      nearest_.resize(hnsw.ef_construction_);
    }
    std::sort(nearest_.begin(), nearest_.end(), nearerFirst);
  }

  // hnswlib's getNeighborsByHeuristic2: nearest first, keep a candidate unless a kept one is closer
  // to it than it is to the neighbour; at most maxLinks. Fewer than maxLinks candidates: keep all.
  void selectByHeuristic(const Hnsw& hnsw, size_t maxLinks) {
    chosen_.clear();
    if (nearest_.size() < maxLinks) {
      chosen_.assign(nearest_.begin(), nearest_.end());
      return;
    }
    for (const Scored& candidate : nearest_) {
      if (chosen_.size() >= maxLinks) break;
      bool keep = true;
      for (const Scored& kept : chosen_) {
        if (distance(hnsw, kept.second, candidate.second) < candidate.first) {
          keep = false;
          break;
        }
      }
      if (keep) chosen_.push_back(candidate);
    }
  }

  // updatePoint writes the links popping a max-heap: farthest first.
  void writeLinks(Hnsw& hnsw, tableint neighbour, int layer) {
    std::unique_lock<hnswlib::NoLock> lock(hnsw.link_list_locks_[neighbour]);
    hnswlib::linklistsizeint* list = hnsw.get_linklist_at_level(neighbour, layer);
    hnsw.setListCount(list, static_cast<unsigned short>(chosen_.size()));
    tableint* links = reinterpret_cast<tableint*>(list + 1);
    for (size_t i = 0; i < chosen_.size(); i++) links[i] = candidates_[chosen_[chosen_.size() - 1 - i].second];
  }
};

}  // namespace engram
