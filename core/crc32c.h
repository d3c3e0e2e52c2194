// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI
// (RFC 3720) and by TFRecord files. Table-driven in software: meant for
// framing small records, not for hashing bulk data. Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace fedrec {

// The CRC-32C of `bytes` continued from `crc` (0 for a fresh checksum), so
// Crc32c(a + b) == Crc32c(b, Crc32c(a)).
uint32_t Crc32c(std::string_view bytes, uint32_t crc = 0);

}  // namespace fedrec
