#include "controlplane/metrics.h"

namespace llmproxy::controlplane {
namespace {

prometheus::Gauge& NewGauge(prometheus::Registry& registry, const char* name,
                            const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(
      {});
}

}  // namespace

ControlPlaneMetrics::ControlPlaneMetrics(prometheus::Registry& registry)
    : usage_records(prometheus::BuildCounter()
                        .Name("llmproxy_controlplane_usage_records_total")
                        .Help("Usage records received from data planes.")
                        .Register(registry)),
      config_revision(NewGauge(registry,
                               "llmproxy_controlplane_config_revision",
                               "Newest config revision known.")),
      dataplanes_connected(
          NewGauge(registry, "llmproxy_controlplane_dataplanes_connected",
                   "Data planes with an open config stream.")),
      store_up(NewGauge(registry, "llmproxy_controlplane_store_up",
                        "1 when the last poll reached the database.")),
      config_pushes(prometheus::BuildCounter()
                        .Name("llmproxy_controlplane_config_pushes_total")
                        .Help("Config snapshots pushed to data planes.")
                        .Register(registry)
                        .Add({})),
      config_nacks(prometheus::BuildCounter()
                       .Name("llmproxy_controlplane_config_nacks_total")
                       .Help("Config pushes rejected by data planes.")
                       .Register(registry)
                       .Add({})),
      usage_records_accepted(usage_records.Add({{"result", "accepted"}})),
      usage_records_duplicate(usage_records.Add({{"result", "duplicate"}})) {}

}  // namespace llmproxy::controlplane
