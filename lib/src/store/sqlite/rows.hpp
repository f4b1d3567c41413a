// How the domain records map onto the SQLite schema: the migrations, the column lists and the
// row readers and binders the sqlite_store methods share.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <array>
#include <optional>

#include "respaldo/domain/app.hpp"
#include "respaldo/domain/backup.hpp"
#include "respaldo/domain/job.hpp"
#include "respaldo/store/sqlite/sqlite_store.hpp"

namespace respaldo::sqlite_rows {

// Each entry moves the schema one version up; never edit a released entry, append a new one.
extern const std::array<const char*, 6> migrations;
static_assert(std::tuple_size_v<decltype(migrations)> == sqlite_schema_version);

extern const char* const app_columns;
extern const char* const job_columns;
extern const char* const backup_columns;

// Readers start at column `first`, so a joined row can hold several records side by side.
app_record read_app(SQLite::Statement& q, int first = 0);
void bind_app(SQLite::Statement& st, const app_record& a);

job_record read_job(SQLite::Statement& q, int first = 0);
void bind_job(SQLite::Statement& st, const job_record& j);
inline constexpr int job_column_count = 21;

backup_record read_backup(SQLite::Statement& q, int first = 0);
void bind_backup(SQLite::Statement& st, const backup_record& b);
inline constexpr int backup_column_count = 20;

}  // namespace respaldo::sqlite_rows
