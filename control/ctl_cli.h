// inceptionctl's command line: arguments -> one control-protocol request,
// and a response -> text for people (tables) or scripts (--json).
//
// Kept apart from main() so that unit tests drive the real parser.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "control/top.h"

namespace inception {

inline constexpr const char* kDefaultControlSocket = "/run/inception/inceptiond.sock";

struct CtlInvocation {
  std::string socket = kDefaultControlSocket;
  bool json_output = false;
  std::string command;  // protocol command, e.g. "port.add"; "top" runs the live view
  nlohmann::json request;
  TopOptions top;
};

// Result of parsing: either an invocation, or text to print and an exit code
// (for --help, --version and usage errors).
struct CtlParse {
  bool ok = false;
  CtlInvocation invocation;
  int exit_code = 0;
  std::string output;  // what to print when !ok (stdout for help, stderr for errors)
};

CtlParse parse_ctl_args(const std::vector<std::string>& args);

// Shell completion (`inceptionctl __complete WORD...`, called by the bash
// completion script): the subcommands and long options of the command that
// `words` (the words typed so far, without the program and the word being
// completed) lead to; the shell keeps those matching the word in progress.
std::vector<std::string> ctl_completions(const std::vector<std::string>& words);

// Human-readable rendering of a successful response's result.
std::string render_result(const std::string& command, const nlohmann::json& result);

}  // namespace inception
