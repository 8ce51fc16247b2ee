#include "controlplane/metrics.h"

namespace llmproxy::controlplane {
namespace {

prometheus::Gauge& NewGauge(prometheus::Registry& registry, const char* name,
                            const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(
      {});
}

prometheus::Counter& NewCounter(prometheus::Registry& registry,
                                const char* name, const char* help) {
  return prometheus::BuildCounter()
      .Name(name)
      .Help(help)
      .Register(registry)
      .Add({});
}

}  // namespace

ControlPlaneMetrics::ControlPlaneMetrics(prometheus::Registry& registry)
    : usage_records(prometheus::BuildCounter()
                        .Name("llmproxy_controlplane_usage_records_total")
                        .Help("Usage records received from data planes.")
                        .Register(registry)),
      config_pushes(prometheus::BuildCounter()
                        .Name("llmproxy_controlplane_config_pushes_total")
                        .Help("Config pushes to data planes, by kind "
                              "(snapshot, delta, budget).")
                        .Register(registry)),
      rpc_duration(prometheus::BuildHistogram()
                       .Name("llmproxy_controlplane_rpc_duration_seconds")
                       .Help("Duration of the RPCs this control plane "
                             "answered, by method and status code.")
                       .Register(registry)),
      config_revision(NewGauge(registry,
                               "llmproxy_controlplane_config_revision",
                               "Newest config revision known.")),
      dataplanes_connected(
          NewGauge(registry, "llmproxy_controlplane_dataplanes_connected",
                   "Data planes with an open config stream to this replica.")),
      fleet_size(NewGauge(registry, "llmproxy_controlplane_fleet_size",
                          "Data planes connected to any replica.")),
      store_up(NewGauge(registry, "llmproxy_controlplane_store_up",
                        "1 when the last poll reached the database.")),
      config_pushes_snapshot(config_pushes.Add({{"kind", "snapshot"}})),
      config_pushes_delta(config_pushes.Add({{"kind", "delta"}})),
      config_pushes_budget(config_pushes.Add({{"kind", "budget"}})),
      config_nacks(NewCounter(registry,
                              "llmproxy_controlplane_config_nacks_total",
                              "Config pushes rejected by data planes.")),
      config_notifications(NewCounter(
          registry, "llmproxy_controlplane_config_notifications_total",
          "Config change notifications received (LISTEN).")),
      usage_records_accepted(usage_records.Add({{"result", "accepted"}})),
      usage_records_duplicate(usage_records.Add({{"result", "duplicate"}})) {}

}  // namespace llmproxy::controlplane
