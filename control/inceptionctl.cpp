// inceptionctl: configure and inspect a running inceptiond.
#include <cstdio>
#include <string>
#include <vector>

#include "control/ctl_cli.h"
#include "control/protocol.h"

namespace {

int run(int argc, char** argv) {
  using namespace inception;
  // Not a verb of the app (it would show in --help): the bash completion
  // script's question, answered from the same CLI11 app as the parser.
  if (argc > 1 && std::string(argv[1]) == "__complete") {
    for (const std::string& word : ctl_completions(std::vector<std::string>(argv + 2, argv + argc)))
      std::printf("%s\n", word.c_str());
    return 0;
  }
  const CtlParse parse = parse_ctl_args(std::vector<std::string>(argv, argv + argc));
  if (!parse.ok) {
    std::fputs(parse.output.c_str(), parse.exit_code == 0 ? stdout : stderr);
    return parse.exit_code;
  }
  const CtlInvocation& inv = parse.invocation;
  if (inv.command == "top") return run_top(inv.socket, inv.top);
  nlohmann::json response;
  try {
    response = call_daemon(inv.socket, inv.request);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inceptionctl: %s\n", e.what());
    return 1;
  }
  if (!response.value("ok", false)) {
    std::fprintf(stderr, "inceptionctl: %s\n", response.value("error", std::string("unknown error")).c_str());
    return 1;
  }
  const nlohmann::json& result = response["result"];
  const std::string text = inv.json_output ? result.dump(2) + "\n" : render_result(inv.command, result);
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inceptionctl: %s\n", e.what());
    return 1;
  }
}
