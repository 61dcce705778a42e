// Fuzz target: the TOML loader (parse_config: toml++, then every key's type
// and range and the validation rules of control/validate.cpp).
//
// Oracle: parse_config either returns a Config or throws ConfigError with
// the source name in front ("fuzz.toml:LINE:COLUMN: ..."); and a Config it
// returns round-trips: to_toml of it parses again, to the same to_toml.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/config.h"

using namespace inception;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Config config;
  try {
    config = parse_config(text, "fuzz.toml");
  } catch (const ConfigError& e) {
    if (std::string_view(e.what()).substr(0, 9) != "fuzz.toml") fail("an error without its source", e.what());
    return 0;
  }
  const std::string printed = to_toml(config);
  std::string reprinted;
  try {
    reprinted = to_toml(parse_config(printed, "printed.toml"));
  } catch (const ConfigError& e) {
    fail("to_toml printed a file parse_config refuses", std::string(e.what()) + "\n" + printed);
  }
  if (reprinted != printed)
    fail("to_toml -> parse_config -> to_toml changed the file", printed + "\n---\n" + reprinted);
  return 0;
}
