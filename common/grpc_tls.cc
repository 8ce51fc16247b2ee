#include "common/grpc_tls.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace llmproxy {
namespace {

// PEM files are a few kilobytes; a bigger one is the wrong file.
constexpr std::size_t kMaxPemBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

void Cleanse(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        const char* what) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read the ", what, " file ", path, ": ", ec.message()));
  }
  if (size > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", what, " file ", path, " is over 1 MiB: not a PEM file"));
  }
  // Read whole, into one buffer, so a private key leaves no partial copies.
  std::string text(static_cast<std::size_t>(size), '\0');
  std::ifstream in(path, std::ios::binary);
  if (!in.read(text.data(), static_cast<std::streamsize>(size))) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the ", what, " file ", path));
  }
  return text;
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate in `pem` (the leaf of a chain), or null; null too
// when a later block of the chain does not parse.
X509Ptr ParseCertificates(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr first;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (!first) {
      first.reset(cert);
    } else {
      X509_free(cert);
    }
  }
  // The loop ends on "no more PEM blocks" (expected) or on a bad block.
  const unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (err != 0 && ERR_GET_REASON(err) != PEM_R_NO_START_LINE) {
    first.reset();
  }
  return first;
}

absl::StatusOr<std::string> ReadCertificates(const std::string& path,
                                             const char* what) {
  absl::StatusOr<std::string> pem = ReadPemFile(path, what);
  if (!pem.ok()) return pem.status();
  if (!ParseCertificates(*pem)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", what, " file ", path, " holds no valid PEM certificate"));
  }
  return pem;
}

// The certificate chain and the private key that goes with its first
// certificate.
struct KeyPair {
  std::string cert_chain;
  std::string private_key;
};

absl::StatusOr<KeyPair> ReadKeyPair(const std::string& cert_file,
                                    const std::string& key_file) {
  absl::StatusOr<std::string> chain = ReadPemFile(cert_file, "certificate");
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::string> key = ReadPemFile(key_file, "private key");
  if (!key.ok()) return key.status();
  // On every way out (moved from on success, so then a no-op).
  absl::Cleanup cleanse_key = [&key] { Cleanse(*key); };
  X509Ptr leaf = ParseCertificates(*chain);
  if (!leaf) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the certificate file ", cert_file, " holds no valid PEM certificate"));
  }
  BioPtr key_bio = MemoryBio(*key);
  PkeyPtr pkey(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!pkey) {
    return absl::InvalidArgumentError(
        absl::StrCat("the private key file ", key_file,
                     " holds no unencrypted PEM private key"));
  }
  const bool matches = X509_check_private_key(leaf.get(), pkey.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(
        absl::StrCat("the private key in ", key_file,
                     " does not belong to the certificate in ", cert_file));
  }
  return KeyPair{*std::move(chain), *std::move(key)};
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const GrpcServerTls& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a TLS certificate needs its private key, and a key its certificate: "
        "give both or neither");
  }
  if (tls.cert_file.empty()) {
    if (!tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "client certificates (mutual TLS) need TLS: give the server's "
          "certificate and key too");
    }
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<KeyPair> pair = ReadKeyPair(tls.cert_file, tls.key_file);
  if (!pair.ok()) return pair.status();
  grpc::SslServerCredentialsOptions options(
      tls.client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> roots =
        ReadCertificates(tls.client_ca_file, "client CA");
    if (!roots.ok()) return roots.status();
    options.pem_root_certs = *std::move(roots);
  }
  options.pem_key_cert_pairs.push_back(
      {std::move(pair->private_key), std::move(pair->cert_chain)});
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::SslServerCredentials(options);
  // gRPC keeps its own copy; ours is not left in freed memory.
  Cleanse(options.pem_key_cert_pairs.front().private_key);
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const GrpcClientTls& tls) {
  if (!tls.on()) return grpc::InsecureChannelCredentials();
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs its private key, and a key its "
        "certificate: give both or neither");
  }
  grpc::SslCredentialsOptions options;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> roots = ReadCertificates(tls.ca_file, "CA");
    if (!roots.ok()) return roots.status();
    options.pem_root_certs = *std::move(roots);
  }
  if (!tls.cert_file.empty()) {
    absl::StatusOr<KeyPair> pair = ReadKeyPair(tls.cert_file, tls.key_file);
    if (!pair.ok()) return pair.status();
    options.pem_cert_chain = std::move(pair->cert_chain);
    options.pem_private_key = std::move(pair->private_key);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::SslCredentials(options);
  Cleanse(options.pem_private_key);  // gRPC keeps its own copy
  return credentials;
}

std::string UnavailableTlsHint(const GrpcClientTls& tls,
                               absl::string_view message,
                               absl::string_view flag) {
  // Only these point at TLS; a refused connection (nothing listening) or a
  // name that does not resolve gets no hint.
  const bool certificate =
      absl::StrContains(message, "certificate verify failed");
  if (!certificate && !absl::StrContains(message, "Socket closed")) return "";
  if (!tls.on()) {
    return absl::StrCat("if it serves TLS, add ", flag, " (or ", flag, "-ca)");
  }
  if (certificate) {
    return absl::StrCat("give the CA that signed its certificate with ", flag,
                        "-ca");
  }
  if (tls.cert_file.empty()) {
    return absl::StrCat("if it asks for a client certificate, add ", flag,
                        "-cert and ", flag, "-key");
  }
  return "";
}

}  // namespace llmproxy
