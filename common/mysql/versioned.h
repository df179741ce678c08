// The one versioned update: lock the row, check the caller's etag, let a pure
// rule decide, write `... WHERE <key> = ? AND version = ?` with the version
// bumped. Every update and transition of every careops store goes through it,
// so the etag policy is the same everywhere:
//
//   - an etag is required on every update and transition: the only way to make
//     an ExpectedVersion is ExpectedVersion::FromEtag, which refuses an empty or
//     malformed etag (common/validation.h ParseEtag) with INVALID_ARGUMENT;
//   - a stale etag is ABORTED, with the current etag in the message, and
//     nothing is written; the client reads again and retries;
//   - the etag of a row is its `version` column in decimal (EtagOf).
//
// A table declares its two statements once:
//
//   constexpr VersionedTable kClaims{
//       .resource = "claim", .key_field = "claim_id",
//       .lock_sql = "SELECT <columns>, version FROM claims WHERE claim_id = ? FOR UPDATE",
//       .update_sql = "UPDATE claims SET status = ?, ..., version = ? WHERE claim_id = ? AND version = ?"};
//
// and an update is
//
//   CAREOPS_ASSIGN_OR_RETURN(ExpectedVersion expected, ExpectedVersion::FromEtag(req.etag()));
//   ...inside RunMutation...
//   CAREOPS_ASSIGN_OR_RETURN(auto done, (UpdateVersioned<Claim, ClaimChange>(
//       conn, kClaims, claim_id, expected, ReadClaim,
//       [&](const Claim& current) { return DecideSomething(current); },       // pure rule
//       [&](Statement& st, const ClaimChange& c) { BindClaimSet(st, c); })));  // the SET values
//
// The lock statement selects a column named `version`; the update statement's
// last three parameters are the new version, the key and the locked version,
// which UpdateVersioned binds itself after `bind_set` (anything else is INTERNAL).
//
// For a change the service makes on its own (an outbox completion, a scan),
// with no client etag, LockVersioned + WriteVersioned are the same two steps
// without the check.
//
// Status codes: NOT_FOUND "<key_field>: no <resource> '<key>'"; ABORTED for a
// stale etag or a row changed between lock and write; INVALID_ARGUMENT from
// FromEtag; whatever `read`, `decide` or the database returned otherwise. All
// of it runs on the caller's transaction: an error rolls the whole mutation back.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/mysql/pool.h"
#include "common/mysql/row.h"

namespace careops::mysql {

// The version a client read, from its etag. There is no other way to make one.
class ExpectedVersion {
 public:
  static absl::StatusOr<ExpectedVersion> FromEtag(std::string_view etag, std::string_view field = "etag");
  int64_t value() const { return version_; }

 private:
  explicit ExpectedVersion(int64_t version) : version_(version) {}
  int64_t version_;
};

// The etag a client gets for `version`.
std::string EtagOf(int64_t version);

struct VersionedTable {
  std::string_view resource;   // "claim", for messages
  std::string_view key_field;  // "claim_id": the request field NOT_FOUND names
  const char* lock_sql;        // ... WHERE <key> = ? FOR UPDATE, selecting `version`
  const char* update_sql;      // ... version = ? WHERE <key> = ? AND version = ?
};

// OK when `update_sql` ends in the shape UpdateVersioned binds (see above).
absl::Status CheckVersionedUpdateSql(std::string_view update_sql);

// ABORTED "etag: the <resource> changed since it was read (etag is now "N")...".
absl::Status StaleEtag(std::string_view resource, int64_t current_version);

// NOT_FOUND "<key_field>: no <resource> '<key>'".
absl::Status NoSuchRow(const VersionedTable& table, std::string_view key);

template <typename Row>
struct LockedRow {
  Row row;
  int64_t version = 0;
};

// The row under `key`, locked for the rest of the transaction.
template <typename Row>
absl::StatusOr<LockedRow<Row>> LockVersioned(Connection& conn, const VersionedTable& table, std::string_view key,
                                             const ReadRow<Row>& read) {
  Statement st(conn, table.lock_sql);
  st.Add(key);
  absl::StatusOr<Rows> rows = st.Query();
  if (!rows.ok()) return rows.status();
  if (!rows->Next()) return NoSuchRow(table, key);
  RowReader& r = rows->row();
  const int64_t version = r.Int64("version");
  absl::StatusOr<Row> row = read(r);
  if (!row.ok()) return row.status();
  if (!r.ok()) return r.status();
  return LockedRow<Row>{*std::move(row), version};
}

// Writes the locked row: `bind_set` adds the values before `version = ?`; the
// new version (locked + 1), the key and the locked version follow. Returns the
// new version; ABORTED when the row is no longer at `locked_version`.
absl::StatusOr<int64_t> WriteVersioned(Connection& conn, const VersionedTable& table, std::string_view key,
                                       int64_t locked_version, const std::function<void(Statement&)>& bind_set);

template <typename Row, typename Decision>
struct VersionedUpdate {
  Row before;         // as locked
  Decision decision;  // what `decide` returned, as written
  int64_t version;    // the row's version (and etag) now
};

template <typename Row, typename Decision>
absl::StatusOr<VersionedUpdate<Row, Decision>> UpdateVersioned(
    Connection& conn, const VersionedTable& table, std::string_view key, ExpectedVersion expected,
    const ReadRow<Row>& read, const std::function<absl::StatusOr<Decision>(const Row&)>& decide,
    const std::function<void(Statement&, const Decision&)>& bind_set) {
  absl::StatusOr<LockedRow<Row>> locked = LockVersioned<Row>(conn, table, key, read);
  if (!locked.ok()) return locked.status();
  if (locked->version != expected.value()) return StaleEtag(table.resource, locked->version);
  absl::StatusOr<Decision> decision = decide(locked->row);
  if (!decision.ok()) return decision.status();
  absl::StatusOr<int64_t> version =
      WriteVersioned(conn, table, key, locked->version, [&](Statement& st) { bind_set(st, *decision); });
  if (!version.ok()) return version.status();
  return VersionedUpdate<Row, Decision>{std::move(locked->row), *std::move(decision), *version};
}

}  // namespace careops::mysql
