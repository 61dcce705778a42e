// Reading a fuzz input front to back, and the frame records every
// fast-path harness shares (tests/fuzz/make_corpus.py writes the same).
//
// Frame record:
//   flags:u8  length:u16be  cut:u16be x (flags & 3)  bytes[length]
// flags bits 0-1: the frame is chained over 1 + (flags & 3) mbufs, cut at
//                 the given offsets (sorted and clamped by the reader);
//           2-3:  what the NIC says about the IPv4 header checksum
//                 (0 nothing, 1 good, 2 bad, 3 not checked);
//           4:    a pool mbuf instead of an exactly sized external buffer
//                 (packet_harness.h explains why most frames are external);
//           5:    no headroom.
// A "rest" record (single-frame harnesses) is the same without the length:
// the frame is every byte left, so the fuzzer grows it freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace inception::fuzz {

// Reads past the end give zeros and an empty span, never an error: every
// byte string is a valid input.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const noexcept { return at_ >= size_; }
  uint8_t u8() noexcept { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t u16() noexcept {
    const uint16_t high = u8();
    return static_cast<uint16_t>(high << 8 | u8());
  }
  uint32_t u32() noexcept {
    const uint32_t high = u16();
    return high << 16 | u16();
  }
  std::span<const uint8_t> bytes(size_t n) noexcept {
    const size_t take = n < size_ - at_ ? n : size_ - at_;
    const std::span<const uint8_t> out(data_ + at_, take);
    at_ += take;
    return out;
  }
  std::span<const uint8_t> rest() noexcept { return bytes(empty() ? 0 : size_ - at_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// One frame as a record describes it.
struct FrameRecord {
  static constexpr unsigned kMaxCuts = 3;
  uint8_t flags = 0;
  uint16_t cuts[kMaxCuts] = {};
  unsigned n_cuts = 0;
  std::span<const uint8_t> bytes;
};

inline FrameRecord read_frame_record(Input& in) noexcept {
  FrameRecord r;
  r.flags = in.u8();
  const uint16_t length = in.u16();
  r.n_cuts = r.flags & 3;
  for (unsigned i = 0; i < r.n_cuts; ++i) r.cuts[i] = in.u16();
  r.bytes = in.bytes(length);
  return r;
}

inline FrameRecord read_rest_record(Input& in) noexcept {
  FrameRecord r;
  r.flags = in.u8();
  r.n_cuts = r.flags & 3;
  for (unsigned i = 0; i < r.n_cuts; ++i) r.cuts[i] = in.u16();
  r.bytes = in.rest();
  return r;
}

}  // namespace inception::fuzz
