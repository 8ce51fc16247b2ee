#pragma once

// Builders for the v1::ConfigSnapshot protos the unit tests feed in.

#include <string>

#include "common/crypto/sha256.h"
#include "llmproxy/v1/config_service.pb.h"
#include "llmproxy/v1/resources.pb.h"

namespace llmproxy::dataplane::testing {

inline v1::Connection* AddConnection(v1::ConfigSnapshot& s, std::string id,
                                     std::string provider,
                                     std::string endpoint) {
  v1::Connection* c = s.add_connections();
  c->set_id(id);
  c->set_name(id);
  c->set_provider(provider);
  c->set_endpoint(endpoint);
  c->set_api_key("sk-provider-" + id);
  return c;
}

inline v1::Model* AddModel(v1::ConfigSnapshot& s, std::string id,
                           std::string alias, std::string remote,
                           std::string connection_id, int priority = 0,
                           int weight = 1) {
  v1::Model* m = s.add_models();
  m->set_id(id);
  m->set_name(alias);
  m->set_remote_model(remote);
  m->set_connection_id(connection_id);
  m->set_priority(priority);
  m->set_weight(weight);
  return m;
}

inline v1::VirtualKey* AddKey(v1::ConfigSnapshot& s, std::string id,
                              std::string plain_key) {
  v1::VirtualKey* k = s.add_virtual_keys();
  k->set_id(id);
  k->set_name(id);
  k->set_key_sha256(Sha256Hex(plain_key));
  return k;
}

inline v1::Assignment* AssignModel(v1::ConfigSnapshot& s, std::string id,
                                   std::string key_id, std::string model_id) {
  v1::Assignment* a = s.add_assignments();
  a->set_id(id);
  a->set_virtual_key_id(key_id);
  a->set_model_id(model_id);
  return a;
}

inline v1::Assignment* AssignConnection(v1::ConfigSnapshot& s, std::string id,
                                        std::string key_id,
                                        std::string connection_id) {
  v1::Assignment* a = s.add_assignments();
  a->set_id(id);
  a->set_virtual_key_id(key_id);
  a->set_connection_id(connection_id);
  return a;
}

// A small fleet config:
//   cn_openai (openai, https://api.openai.com/v1): md_gpt "gpt" -> gpt-4o,
//     md_emb "emb" -> text-embedding-3-small
//   cn_azure (azure_openai): md_gpt_az "gpt" -> my-deploy (priority 1)
//   cn_off (disabled): md_off "off" -> x
//   cn_bedrock (unsupported provider): md_br "bedrock-model"
//   vk_team "sk-team": connection cn_openai + model md_gpt_az + md_off + md_br
//   vk_other "sk-other": model md_emb only
inline v1::ConfigSnapshot SampleSnapshot() {
  v1::ConfigSnapshot s;
  s.set_revision(7);
  AddConnection(s, "cn_openai", "openai", "https://api.openai.com/v1");
  v1::Connection* az = AddConnection(s, "cn_azure", "azure_openai",
                                     "https://res.openai.azure.com/");
  az->set_api_version("2024-10-21");
  (*az->mutable_extra_headers())["x-team"] = "blue";
  AddConnection(s, "cn_off", "openai", "http://127.0.0.1:9")
      ->set_enabled(false);
  AddConnection(s, "cn_bedrock", "bedrock", "https://bedrock.example");
  AddModel(s, "md_gpt", "gpt", "gpt-4o", "cn_openai", 0);
  AddModel(s, "md_emb", "emb", "text-embedding-3-small", "cn_openai");
  AddModel(s, "md_gpt_az", "gpt", "my-deploy", "cn_azure", 1);
  AddModel(s, "md_off", "off", "x", "cn_off");
  AddModel(s, "md_br", "bedrock-model", "anthropic.claude", "cn_bedrock");
  AddKey(s, "vk_team", "sk-team");
  AddKey(s, "vk_other", "sk-other");
  AssignConnection(s, "as_1", "vk_team", "cn_openai");
  AssignModel(s, "as_2", "vk_team", "md_gpt_az");
  AssignModel(s, "as_3", "vk_team", "md_off");
  AssignModel(s, "as_4", "vk_team", "md_br");
  AssignModel(s, "as_5", "vk_other", "md_emb");
  return s;
}

}  // namespace llmproxy::dataplane::testing
