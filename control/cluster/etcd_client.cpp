#include "control/cluster/etcd_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "inception/errors.h"

namespace inception::cluster {

using nlohmann::json;

namespace {

// gRPC status codes as the gateway reports them ("code" / "grpc_code").
constexpr int kGrpcCancelled = 1;
constexpr int kGrpcUnavailable = 14;

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// curl_global_init is not thread-safe: done once, before any handle.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The gateway sends int64s as strings and leaves zero values out.
int64_t int64_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    size_t used = 0;
    try {
      const int64_t v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
  }
  throw std::runtime_error(fmt::format("field '{}' is not an integer: {}", name, it->dump()));
}

std::string bytes_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) throw std::runtime_error(fmt::format("field '{}' is not a string", name));
  auto decoded = base64_decode(it->get_ref<const std::string&>());
  if (!decoded) throw std::runtime_error(fmt::format("field '{}' is not base64", name));
  return *decoded;
}

KeyValue parse_kv(const json& j) {
  KeyValue kv;
  kv.key = bytes_field(j, "key");
  kv.value = bytes_field(j, "value");
  kv.create_revision = int64_field(j, "create_revision");
  kv.mod_revision = int64_field(j, "mod_revision");
  kv.version = int64_field(j, "version");
  kv.lease = int64_field(j, "lease");
  return kv;
}

int64_t header_revision(const json& j) {
  const auto it = j.find("header");
  return it != j.end() && it->is_object() ? int64_field(*it, "revision") : 0;
}

// etcd's own errors come back as {"error": "...", "code": N, "message": ...}.
void throw_if_error(const json& j, const std::string& where) {
  if (!j.is_object()) throw EtcdError(fmt::format("{}: answer is not a JSON object", where), false);
  const auto it = j.find("error");
  if (it == j.end()) return;
  const auto message = j.find("message");
  std::string text = message != j.end() && message->is_string() ? message->get<std::string>() : it->dump();
  throw EtcdError(fmt::format("{}: {}", where, text), false);
}

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

bool unreachable_code(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return true;
    default:
      return false;
  }
}

// curl's text ("Failed to connect to 127.0.0.1 port 2379 after 0 ms:
// Couldn't connect to server") with the system's reason when there is one.
std::string curl_error_text(CURL* curl, CURLcode code, const char* buffer) {
  std::string text = buffer[0] != '\0' ? std::string(buffer) : std::string(curl_easy_strerror(code));
  long os_errno = 0;
  if (curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0)
    text += fmt::format(" ({})", errno_text(static_cast<int>(os_errno)));
  return text;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64Alphabet[(v >> shift) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::array<int8_t, 256> value{};
  value.fill(-1);
  for (size_t i = 0; i < kBase64Alphabet.size(); ++i)
    value[static_cast<uint8_t>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is not padding
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      int8_t d = 0;
      if (k >= 4 - pad) {
        d = 0;
      } else if ((d = value[static_cast<uint8_t>(c)]) < 0) {
        return std::nullopt;
      }
      v = v << 6 | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (pad < 2) out.push_back(static_cast<char>(v >> 8 & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "\0" range_end
}

EtcdClient::EtcdClient(std::vector<std::string> endpoints, Options options)
    : endpoints_(std::move(endpoints)), options_(options) {
  if (endpoints_.empty()) throw std::invalid_argument("etcd client: no endpoint");
  global_init();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw std::runtime_error("etcd client: curl_easy_init failed");
}

EtcdClient::~EtcdClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string EtcdClient::endpoint() const {
  return endpoints_[current_];
}

std::string EtcdClient::post(const std::string& path, const std::string& body) {
  CURL* curl = static_cast<CURL*>(curl_);
  std::string last_error;
  for (size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    const size_t at = (current_ + attempt) % endpoints_.size();
    const std::string url = endpoints_[at] + path;
    std::string answer;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: other threads run here
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    const CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
      last_error = fmt::format("etcd {}: {}", endpoints_[at], curl_error_text(curl, code, error));
      if (unreachable_code(code)) continue;
      throw EtcdError(last_error, false);
    }
    current_ = at;
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      std::string message = answer.substr(0, 200);
      int grpc_code = 0;
      try {
        const json j = json::parse(answer);
        if (j.contains("message") && j["message"].is_string())
          message = j["message"];
        else if (j.contains("error") && j["error"].is_string())
          message = j["error"];
        if (j.contains("code") && j["code"].is_number_integer()) grpc_code = j["code"];
      } catch (const json::exception&) {
      }
      last_error = fmt::format("etcd {}{}: HTTP {}: {}", endpoints_[at], path, status, message);
      // gRPC's Unavailable is this member's state, not the request's
      // fault ("etcdserver: no leader", "server stopped", "request timed
      // out"): another member may answer, as etcd's own client retries.
      if (grpc_code == kGrpcUnavailable) continue;
      throw EtcdError(last_error, false);
    }
    return answer;
  }
  throw EtcdError(last_error, true);
}

namespace {

json parse_answer(const std::string& text, const std::string& where) {
  try {
    json j = json::parse(text);
    throw_if_error(j, where);
    return j;
  } catch (const json::exception& e) {
    throw EtcdError(fmt::format("{}: answer is not JSON: {}", where, e.what()), false);
  }
}

RangeResult parse_range(const json& j, const std::string& where) {
  RangeResult out;
  try {
    out.revision = header_revision(j);
    if (const auto it = j.find("kvs"); it != j.end() && it->is_array())
      for (const json& kv : *it) out.kvs.push_back(parse_kv(kv));
  } catch (const std::runtime_error& e) {
    throw EtcdError(fmt::format("{}: {}", where, e.what()), false);
  }
  return out;
}

}  // namespace

RangeResult EtcdClient::get(std::string_view key) {
  const json body = {{"key", base64_encode(key)}};
  return parse_range(parse_answer(post("/v3/kv/range", body.dump()), "etcd " + endpoint() + " range"),
                     "etcd " + endpoint() + " range");
}

RangeResult EtcdClient::get_prefix(std::string_view prefix) {
  const json body = {{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}};
  return parse_range(parse_answer(post("/v3/kv/range", body.dump()), "etcd " + endpoint() + " range"),
                     "etcd " + endpoint() + " range");
}

int64_t EtcdClient::put(std::string_view key, std::string_view value, int64_t lease) {
  json body = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) body["lease"] = std::to_string(lease);
  const std::string where = "etcd " + endpoint() + " put";
  const json j = parse_answer(post("/v3/kv/put", body.dump()), where);
  try {
    return header_revision(j);
  } catch (const std::runtime_error& e) {
    throw EtcdError(fmt::format("{}: {}", where, e.what()), false);
  }
}

int64_t EtcdClient::del(std::string_view key) {
  const json body = {{"key", base64_encode(key)}};
  const json j = parse_answer(post("/v3/kv/deleterange", body.dump()), "etcd " + endpoint() + " delete");
  return int64_field(j, "deleted");
}

int64_t EtcdClient::del_prefix(std::string_view prefix) {
  const json body = {{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}};
  const json j = parse_answer(post("/v3/kv/deleterange", body.dump()), "etcd " + endpoint() + " delete");
  return int64_field(j, "deleted");
}

bool EtcdClient::create(std::string_view key, std::string_view value, int64_t lease) {
  json put = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  // The gateway spells enums by name; "0" for create_revision, which it
  // would otherwise leave out as a zero value, is sent explicitly.
  const json body = {
      {"compare",
       json::array(
           {{{"key", base64_encode(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}})},
      {"success", json::array({{{"request_put", put}}})}};
  const json j = parse_answer(post("/v3/kv/txn", body.dump()), "etcd " + endpoint() + " txn");
  const auto it = j.find("succeeded");
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

Lease EtcdClient::grant(int64_t ttl_s) {
  const json body = {{"TTL", std::to_string(ttl_s)}};
  const std::string where = "etcd " + endpoint() + " lease grant";
  const json j = parse_answer(post("/v3/lease/grant", body.dump()), where);
  try {
    Lease lease{int64_field(j, "ID"), int64_field(j, "TTL")};
    if (lease.id == 0) throw std::runtime_error("no lease ID in the answer");
    return lease;
  } catch (const std::runtime_error& e) {
    throw EtcdError(fmt::format("{}: {}", where, e.what()), false);
  }
}

int64_t EtcdClient::keepalive(int64_t lease_id) {
  const json body = {{"ID", std::to_string(lease_id)}};
  const std::string where = "etcd " + endpoint() + " lease keepalive";
  // A stream of one message: {"result": {"ID": .., "TTL": ..}}; a lease etcd
  // no longer knows comes back without TTL (zero, left out).
  const json j = parse_answer(post("/v3/lease/keepalive", body.dump()), where);
  const auto result = j.find("result");
  if (result == j.end() || !result->is_object()) throw EtcdError(where + ": answer has no result", false);
  try {
    return int64_field(*result, "TTL");
  } catch (const std::runtime_error& e) {
    throw EtcdError(fmt::format("{}: {}", where, e.what()), false);
  }
}

void EtcdClient::revoke(int64_t lease_id) {
  const json body = {{"ID", std::to_string(lease_id)}};
  parse_answer(post("/v3/lease/revoke", body.dump()), "etcd " + endpoint() + " lease revoke");
}

namespace {

std::mutex& wake_mutex() {
  static std::mutex m;
  return m;
}

// The watch's stream: newline-separated JSON messages, each {"result":
// {...}} or {"error": {...}}. The gateway flushes one message per line.
struct WatchStream {
  std::string pending;
  std::function<void(const json&)> on_message;
  std::string parse_error;
};

size_t watch_body(char* data, size_t size, size_t count, void* user) {
  auto* stream = static_cast<WatchStream*>(user);
  stream->pending.append(data, size * count);
  size_t start = 0;
  for (size_t nl; (nl = stream->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string_view line(stream->pending.data() + start, nl - start);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    json message = json::parse(line, nullptr, false);
    if (message.is_discarded()) {
      stream->parse_error = "watch: a line of the stream is not JSON";
      return 0;  // aborts the transfer
    }
    stream->on_message(message);
  }
  stream->pending.erase(0, start);
  return size * count;
}

}  // namespace

void EtcdClient::stop() noexcept {
  stop_.store(true, std::memory_order_relaxed);
  std::lock_guard lock(wake_mutex());
  if (void* multi = wake_.load(std::memory_order_relaxed)) curl_multi_wakeup(static_cast<CURLM*>(multi));
}

void EtcdClient::reset_stop() noexcept {
  stop_.store(false, std::memory_order_relaxed);
}

namespace {

// An {"error": {...}} line that says the member went away rather than
// that the request is wrong: the gateway's gRPC connection to its own
// server closed (the member is stopping: Cancelled, "grpc: the client
// connection is closing") or it is Unavailable.
bool member_gone(const json& error) {
  if (!error.is_object()) return false;
  const auto code = error.find("grpc_code");
  return code != error.end() && code->is_number_integer() &&
         (code->get<int>() == kGrpcCancelled || code->get<int>() == kGrpcUnavailable);
}

}  // namespace

WatchEnd EtcdClient::watch(std::string_view prefix, int64_t start_revision,
                           const std::function<void(const WatchEvent&)>& on_event, const std::function<bool()>& tick) {
  WatchEnd end;
  end.last_revision = start_revision > 0 ? start_revision - 1 : 0;
  // Where a stream opened after a break starts: after the last event
  // handed on. Not after the header revisions: etcd's "created" message
  // carries the member's current revision while the events before it are
  // still to come.
  int64_t resume_from = start_revision;
  const json create_base = {
      {"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}, {"prev_kv", true}};

  // Set per stream: `finished` when the watch ended from inside it,
  // `created` once etcd confirmed the watch, `gone` when the member said it
  // is going away.
  bool finished = false, created = false, gone = false;
  std::string at_endpoint;
  WatchStream stream;
  stream.on_message = [&](const json& message) {
    if (finished || gone) return;
    if (const auto err = message.find("error"); err != message.end()) {
      const auto text = err->is_object() ? err->find("message") : err->end();
      end.error = fmt::format("etcd {} watch: {}", at_endpoint,
                              text != err->end() && text->is_string() ? text->get<std::string>() : err->dump());
      end.reason = WatchEnd::Reason::kBroken;
      if (member_gone(*err))
        gone = true;
      else
        finished = true;
      return;
    }
    const auto result = message.find("result");
    if (result == message.end() || !result->is_object()) return;
    try {
      end.last_revision = std::max(end.last_revision, header_revision(*result));
      if (const auto c = result->find("created"); c != result->end() && c->is_boolean() && c->get<bool>())
        created = true;
      if (const int64_t compact = int64_field(*result, "compact_revision"); compact != 0) {
        end.reason = WatchEnd::Reason::kCompacted;
        end.compact_revision = compact;
        finished = true;
        return;
      }
      if (const auto c = result->find("canceled"); c != result->end() && c->is_boolean() && c->get<bool>()) {
        end.reason = WatchEnd::Reason::kCancelled;
        const auto reason = result->find("cancel_reason");
        end.error =
            fmt::format("etcd {} watch cancelled{}", at_endpoint,
                        reason != result->end() && reason->is_string() ? ": " + reason->get<std::string>() : "");
        finished = true;
        return;
      }
      if (const auto events = result->find("events"); events != result->end() && events->is_array()) {
        for (const json& e : *events) {
          WatchEvent event;
          const auto type = e.find("type");
          event.type = type != e.end() && type->is_string() && type->get<std::string>() == "DELETE"
                           ? WatchEvent::Type::kDelete
                           : WatchEvent::Type::kPut;
          if (const auto kv = e.find("kv"); kv != e.end() && kv->is_object()) event.kv = parse_kv(*kv);
          if (const auto prev = e.find("prev_kv"); prev != e.end() && prev->is_object()) event.prev = parse_kv(*prev);
          end.last_revision = std::max(end.last_revision, event.kv.mod_revision);
          resume_from = std::max(resume_from, event.kv.mod_revision + 1);
          on_event(event);
        }
      }
    } catch (const std::runtime_error& e) {
      end.reason = WatchEnd::Reason::kBroken;
      end.error = fmt::format("etcd {} watch: {}", at_endpoint, e.what());
      finished = true;
    }
  };

  // The watch uses its own easy handle inside a multi handle: curl_multi_poll
  // returns every kWatchPollMs (or at once on curl_multi_wakeup from stop()),
  // so the loop can stop, tick, and notice a dead stream promptly.
  //
  // A stream that breaks after etcd created the watch (the member was
  // killed: the kernel closes the connection and curl sees it at once; or
  // stopped: the gateway says so) is opened again on the next endpoint,
  // from the revision after the last event: the caller sees no break and
  // misses no event. Endpoints that cannot be reached, or that do not
  // create the watch within the connect and request timeouts, are tried
  // once around the list; only then does the watch return kBroken.
  size_t at = current_;
  for (size_t failed = 0; failed < endpoints_.size(); at = (at + 1) % endpoints_.size()) {
    at_endpoint = endpoints_[at];
    created = gone = false;
    json create = create_base;
    if (resume_from > 0) create["start_revision"] = std::to_string(resume_from);
    const std::string body = json{{"create_request", create}}.dump();
    const std::string url = endpoints_[at] + "/v3/watch";
    CURL* easy = curl_easy_init();
    CURLM* multi = curl_multi_init();
    if (easy == nullptr || multi == nullptr) {
      curl_easy_cleanup(easy);
      curl_multi_cleanup(multi);
      end.reason = WatchEnd::Reason::kBroken;
      end.error = "etcd watch: out of memory";
      return end;
    }
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    // A dead peer (partition) is noticed by TCP keepalive, not by silence:
    // a quiet prefix sends nothing for hours.
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 2L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, watch_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &stream);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
    curl_multi_add_handle(multi, easy);
    {
      std::lock_guard lock(wake_mutex());
      wake_.store(multi, std::memory_order_relaxed);
    }
    bool connected = false;
    CURLcode done = CURLE_OK;
    bool transfer_done = false;
    // A member that accepts the connection but never creates the watch
    // (hung, or cut off from its peers behind a live kernel) would hold
    // the watch forever: a healthy one confirms at once.
    const auto create_by = std::chrono::steady_clock::now() + options_.connect_timeout + options_.request_timeout;
    bool silent = false;
    while (!finished && !gone && !stop_.load(std::memory_order_relaxed)) {
      int running = 0;
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued))
        if (msg->msg == CURLMSG_DONE) {
          done = msg->data.result;
          transfer_done = true;
        }
      if (!connected) {
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 0) {
          connected = true;
          current_ = at;
        }
      }
      if (transfer_done || running == 0) break;
      if (!created && std::chrono::steady_clock::now() >= create_by) {
        silent = true;
        break;
      }
      if (tick && !tick()) break;
      curl_multi_poll(multi, nullptr, 0, kWatchPollMs, nullptr);
    }
    {
      std::lock_guard lock(wake_mutex());
      wake_.store(nullptr, std::memory_order_relaxed);
    }
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    const std::string transfer_error = done != CURLE_OK ? curl_error_text(easy, done, error) : std::string();
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
    stream.pending.clear();  // a partial line of a dead stream is not the start of the next one's
    if (finished) return end;
    if (!transfer_done && !gone && !silent) {  // stop() or tick()
      end.reason = WatchEnd::Reason::kStopped;
      return end;
    }
    end.reason = WatchEnd::Reason::kBroken;
    if (!stream.parse_error.empty()) {
      end.error = fmt::format("etcd {} {}", endpoints_[at], stream.parse_error);
      return end;
    }
    if (silent) {
      end.error = fmt::format("etcd {} watch: not created within {} ms", endpoints_[at],
                              (options_.connect_timeout + options_.request_timeout).count());
    } else if (!gone) {
      if (done == CURLE_OK)
        end.error = status == 200 ? fmt::format("etcd {} watch: the stream ended", endpoints_[at])
                                  : fmt::format("etcd {} watch: HTTP {}", endpoints_[at], status);
      else
        end.error = fmt::format("etcd {}: {}", endpoints_[at], transfer_error);
      // Not a watch etcd created, and not a member out of reach: an
      // answer every member would give.
      if (!created && (connected || !unreachable_code(done))) return end;
    }
    // This member served the watch and went away: a fresh round of the
    // others. One that never created it counts towards the round.
    failed = created ? 1 : failed + 1;
  }
  return end;  // no endpoint reachable: the last error
}

}  // namespace inception::cluster
