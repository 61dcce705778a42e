// Private to dataplane.cpp and worker.cpp: a worker's thread state.
#pragma once

#include "dataplane/dataplane.h"
#include "dataplane/worker/worker_context.h"

namespace inception {

struct Dataplane::Worker {
  Dataplane* dataplane = nullptr;
  unsigned lcore = 0;
  WorkerContext ctx;
  // An eventfd in the worker's idle epoll set: the control thread writes
  // it when the worker has something to look at that no guest kick
  // announces (a new snapshot, an injected frame). -1 if none.
  int doorbell = -1;
};

int worker_main(void* arg);

}  // namespace inception
