// The control socket: a unix stream socket inceptionctl connects to.
//
// A dedicated thread accepts one connection at a time, reads one request
// line, answers it through the handler and closes. Requests are small and
// rare; serving them in turn keeps the controller's locking trivial. Socket
// timeouts keep a stuck client from blocking the others for long.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace inception {

class ControlServer {
 public:
  using Handler = std::function<std::string(const std::string& request_line)>;

  // Creates the socket's directory if needed and binds. Throws
  // std::runtime_error if another inceptiond answers on `path` or binding fails.
  ControlServer(std::string path, Handler handler);
  // Stops serving and removes the socket file.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  void serve();
  void serve_one(int fd);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: tells the thread to stop
  std::thread thread_;
};

}  // namespace inception
