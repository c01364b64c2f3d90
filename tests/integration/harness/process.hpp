// A child process owned by a test: fork+exec with its output in a log file, stopped (and reaped)
// when the owner goes away, and killed by the kernel if the test process itself dies.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pepeunit::testing {

/// Everything `Process::launch` can be told; `Process::spawn` covers the common case.
struct SpawnOptions {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH
  std::map<std::string, std::string> env_overrides;
  /// true: the child sees the current environment plus `env_overrides`; false: only the
  /// overrides (for programs that must not pick up the developer's shell variables).
  bool inherit_env = true;
  std::filesystem::path log_file;          ///< stdout+stderr appended here; empty: discarded
  std::optional<std::string> run_as_user;  ///< switch uid/gid/groups before exec (needs root)
  std::filesystem::path working_dir;       ///< empty: the current one
};

/// One child process. The child gets its own process group, a clean signal mask, stdin from
/// /dev/null and PR_SET_PDEATHSIG=SIGKILL, so a killed test never leaves servers behind.
/// Note the kernel ties PDEATHSIG to the *thread* that forked: spawn long-lived servers from a
/// thread that outlives them (the test's main thread), not from a short-lived worker.
/// When the child exits, whatever is left of its process group is SIGKILLed.
/// Exit codes follow the shell: the exit status, or 128 + signal number when killed by a signal.
class Process {
 public:
  Process() = default;
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  /// fork+exec `argv`; throws std::runtime_error if the program cannot be executed.
  static Process spawn(std::vector<std::string> argv,
                       std::map<std::string, std::string> env_overrides = {},
                       std::filesystem::path log_file = {},
                       std::optional<std::string> run_as_user = {});
  static Process launch(const SpawnOptions& options);

  /// -1 for an empty (default-constructed or moved-from) Process.
  pid_t pid() const { return pid_; }
  const std::filesystem::path& logFile() const { return log_file_; }
  /// True while the child has not exited (reaps it if it has).
  bool running();
  /// The exit code once the child has been reaped.
  std::optional<int> exitCode() const { return exit_code_; }
  /// Sends `sig` to the child (no-op once it has exited).
  void signal(int sig);
  /// Waits up to `timeout` for the child to exit; its exit code, or nullopt if still running.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
  /// Sends `sig` (plus SIGCONT, in case it is stopped), waits `grace`, then SIGKILLs the whole
  /// process group, and reaps. Returns the exit code; nullopt for an empty Process.
  std::optional<int> stop(int sig = SIGTERM,
                          std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  bool tryReap();
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_file_;
};

/// The whole file, or "" if it cannot be read (logs that were never written).
std::string readFile(const std::filesystem::path& path);
/// The last `max_bytes` of the file (for error messages that quote a server's log).
std::string readFileTail(const std::filesystem::path& path, std::size_t max_bytes = 4096);

}  // namespace pepeunit::testing
