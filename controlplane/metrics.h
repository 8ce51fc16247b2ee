#pragma once

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace llmproxy::controlplane {

// The control plane's Prometheus metrics. The references stay valid as long
// as the registry they were registered in lives.
struct ControlPlaneMetrics {
  explicit ControlPlaneMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& usage_records;

  // Newest config revision this replica knows of.
  prometheus::Gauge& config_revision;
  // Data planes with an open config stream to this replica.
  prometheus::Gauge& dataplanes_connected;
  // 1 when the last revision poll reached the database.
  prometheus::Gauge& store_up;
  // Config snapshots sent to data planes.
  prometheus::Counter& config_pushes;
  // NACKs received from data planes.
  prometheus::Counter& config_nacks;
  // Usage records received, by whether they were new.
  prometheus::Counter& usage_records_accepted;
  prometheus::Counter& usage_records_duplicate;
};

}  // namespace llmproxy::controlplane
