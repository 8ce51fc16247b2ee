#include "common/grpc_tls.h"

#include <gtest/gtest.h>

namespace llmproxy {
namespace {

TEST(UnavailableTlsHint, SaysToTurnOnTlsWhenItIsOff) {
  EXPECT_EQ(UnavailableTlsHint(GrpcClientTls{}, "Socket closed", "--tls"),
            "if it serves TLS, add --tls (or --tls-ca)");
}

TEST(UnavailableTlsHint, SaysToGiveTheCaWhenTheCertificateIsNotTrusted) {
  GrpcClientTls tls;
  tls.ca_file = "other-ca.pem";
  EXPECT_EQ(
      UnavailableTlsHint(tls, "failed to connect: certificate verify failed",
                         "--controlplane-tls"),
      "give the CA that signed its certificate with --controlplane-tls-ca");
}

TEST(UnavailableTlsHint, SaysToAddAClientCertificateWhenThereIsNone) {
  GrpcClientTls tls;
  tls.enabled = true;
  EXPECT_EQ(UnavailableTlsHint(tls, "Socket closed", "--controlplane-tls"),
            "if it asks for a client certificate, add --controlplane-tls-cert "
            "and --controlplane-tls-key");
}

TEST(UnavailableTlsHint, StaysQuietWhenNothingIsListening) {
  EXPECT_EQ(UnavailableTlsHint(GrpcClientTls{},
                               "failed to connect to all addresses; last "
                               "error: UNAVAILABLE: ipv4:127.0.0.1:1: "
                               "Connection refused",
                               "--tls"),
            "");
}

TEST(UnavailableTlsHint, HasNothingToAddWithTlsAndACertificate) {
  GrpcClientTls tls;
  tls.ca_file = "ca.pem";
  tls.cert_file = "dp.pem";
  tls.key_file = "dp.key";
  EXPECT_EQ(UnavailableTlsHint(tls, "Socket closed", "--tls"), "");
}

}  // namespace
}  // namespace llmproxy
