#pragma once

// Turns AdminService and UsageService answers into the text `llm-proxy`
// prints: aligned tables for lists, "field: value" views for one resource, or
// JSON. Secrets never appear: connections show the server's masked api key,
// virtual keys their display prefix.

#include <string>

#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "llmproxy/v1/admin_service.pb.h"
#include "llmproxy/v1/usage_service.pb.h"

namespace llmproxy::cli {

// The message as JSON (proto field names, zero values included so scripts
// see every field), ending in '\n'.
std::string ToJson(const google::protobuf::Message& message);

// "2024-06-01T12:00:00Z", or "" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& ts);

// Short human form of limits, e.g. "rps=5 burst=10 tpm=1000 conc=2
// budget=$10/month"; "" when no limit is set.
std::string LimitsSummary(const v1::Limits& limits);

// A double without trailing zeros: 2.5 -> "2.5", 3 -> "3".
std::string FormatNumber(double v);

std::string RenderConnections(
    const google::protobuf::RepeatedPtrField<v1::Connection>& items);
std::string RenderConnection(const v1::Connection& c);

std::string RenderModels(
    const google::protobuf::RepeatedPtrField<v1::Model>& items);
std::string RenderModel(const v1::Model& m);

std::string RenderVirtualKeys(
    const google::protobuf::RepeatedPtrField<v1::VirtualKey>& items);
std::string RenderVirtualKey(const v1::VirtualKey& k);

std::string RenderAssignments(
    const google::protobuf::RepeatedPtrField<v1::Assignment>& items);
std::string RenderAssignment(const v1::Assignment& a);

std::string RenderDataPlanes(const v1::ListDataPlanesResponse& resp);

// Columns follow the query: a BUCKET column with a granularity, one column
// per group_by dimension, then the sums.
std::string RenderUsage(const v1::QueryUsageRequest& query,
                        const v1::QueryUsageResponse& resp);

}  // namespace llmproxy::cli
