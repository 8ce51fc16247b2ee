#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

namespace llmproxy {

// A bounded lock-free multi-producer queue (Dmitry Vyukov's bounded MPMC
// design): request threads push usage records without taking a lock or
// making a system call; one background thread pops them. Push fails instead of
// blocking when the queue is full.
template <typename T>
class BoundedQueue {
 public:
  // capacity is rounded up to a power of two.
  explicit BoundedQueue(std::size_t capacity)
      : mask_(RoundUp(capacity) - 1), cells_(new Cell[mask_ + 1]) {
    for (std::size_t i = 0; i <= mask_; ++i) {
      cells_[i].sequence.store(i, std::memory_order_relaxed);
    }
  }

  bool TryPush(T value) {
    std::size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    Cell* cell;
    while (true) {
      cell = &cells_[pos & mask_];
      std::size_t seq = cell->sequence.load(std::memory_order_acquire);
      auto diff =
          static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
      if (diff == 0) {
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1,
                                               std::memory_order_relaxed)) {
          break;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = enqueue_pos_.load(std::memory_order_relaxed);
      }
    }
    cell->value = std::move(value);
    cell->sequence.store(pos + 1, std::memory_order_release);
    return true;
  }

  std::optional<T> TryPop() {
    std::size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    Cell* cell;
    while (true) {
      cell = &cells_[pos & mask_];
      std::size_t seq = cell->sequence.load(std::memory_order_acquire);
      auto diff = static_cast<std::ptrdiff_t>(seq) -
                  static_cast<std::ptrdiff_t>(pos + 1);
      if (diff == 0) {
        if (dequeue_pos_.compare_exchange_weak(pos, pos + 1,
                                               std::memory_order_relaxed)) {
          break;
        }
      } else if (diff < 0) {
        return std::nullopt;  // empty
      } else {
        pos = dequeue_pos_.load(std::memory_order_relaxed);
      }
    }
    std::optional<T> out(std::move(cell->value));
    cell->sequence.store(pos + mask_ + 1, std::memory_order_release);
    return out;
  }

 private:
  struct Cell {
    std::atomic<std::size_t> sequence;
    T value;
  };

  static std::size_t RoundUp(std::size_t n) {
    std::size_t p = 2;
    while (p < n) p <<= 1;
    return p;
  }

  const std::size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  // Producers and the consumer on separate cache lines.
  alignas(64) std::atomic<std::size_t> enqueue_pos_{0};
  alignas(64) std::atomic<std::size_t> dequeue_pos_{0};
};

}  // namespace llmproxy
