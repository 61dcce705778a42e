// Private to dataplane.cpp and worker.cpp: a worker's thread state.
#pragma once

#include "dataplane/dataplane.h"
#include "dataplane/worker/worker_context.h"

namespace inception {

struct Dataplane::Worker {
  Dataplane* dataplane = nullptr;
  unsigned lcore = 0;
  WorkerContext ctx;
};

int worker_main(void* arg);

}  // namespace inception
