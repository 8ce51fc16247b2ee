#pragma once

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace llmproxy::controlplane {

// The control plane's Prometheus metrics. The references stay valid as long
// as the registry they were registered in lives.
struct ControlPlaneMetrics {
  explicit ControlPlaneMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& usage_records;
  prometheus::Family<prometheus::Counter>& config_pushes;
  // llmproxy_controlplane_rpc_duration_seconds{method,code}: every RPC this
  // server answers, from its start to its status (a config stream's lifetime
  // for StreamConfig).
  prometheus::Family<prometheus::Histogram>& rpc_duration;

  // Newest config revision known.
  prometheus::Gauge& config_revision;
  // Data planes with an open config stream to this replica.
  prometheus::Gauge& dataplanes_connected;
  // Data planes connected to any replica (the fleet_size pushed).
  prometheus::Gauge& fleet_size;
  // 1 when the last revision poll reached the database.
  prometheus::Gauge& store_up;
  // Pushes to data planes by kind: a full snapshot, a config delta, or a
  // budget refresh (a delta carrying only budget spend and fleet size).
  prometheus::Counter& config_pushes_snapshot;
  prometheus::Counter& config_pushes_delta;
  prometheus::Counter& config_pushes_budget;
  // NACKs received from data planes.
  prometheus::Counter& config_nacks;
  // Change notifications received over PostgreSQL LISTEN.
  prometheus::Counter& config_notifications;
  // Usage records received, by whether they were new.
  prometheus::Counter& usage_records_accepted;
  prometheus::Counter& usage_records_duplicate;
};

}  // namespace llmproxy::controlplane
