// Process: fork+exec with everything the child needs prepared before fork, because after fork
// in a (possibly) multi-threaded parent only async-signal-safe calls are allowed.
#include "integration/harness/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace pepeunit::testing {
namespace {

/// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

/// What the child reports through the exec pipe when it fails before exec succeeds.
struct ChildFailure {
  int stage;  // index into kStageNames
  int error;
};
constexpr const char* kStageNames[] = {"dup2",  "setgroups", "setgid", "setuid",
                                       "prctl", "chdir",     "exec"};

struct Credentials {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
};

Credentials lookUpUser(const std::string& name) {
  passwd pwd{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwnam_r(name.c_str(), &pwd, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    throw std::runtime_error("no such user: " + name);
  }
  Credentials creds{pwd.pw_uid, pwd.pw_gid, {}};
  int count = 64;
  creds.groups.resize(count);
  if (::getgrouplist(name.c_str(), pwd.pw_gid, creds.groups.data(), &count) < 0) {
    creds.groups.resize(count);
    ::getgrouplist(name.c_str(), pwd.pw_gid, creds.groups.data(), &count);
  }
  creds.groups.resize(count);
  return creds;
}

std::vector<std::string> buildEnvironment(const SpawnOptions& options) {
  std::map<std::string, std::string> env;
  if (options.inherit_env) {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      const auto eq = entry.find('=');
      if (eq != std::string::npos) {
        env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
      }
    }
  }
  for (const auto& [key, value] : options.env_overrides) {
    env[key] = value;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) {
    std::string entry = key;
    entry += '=';
    entry += value;
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void childFail(int pipe_fd, int stage) {
  const ChildFailure failure{stage, errno};
  [[maybe_unused]] const auto n = ::write(pipe_fd, &failure, sizeof(failure));
  ::_exit(127);
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

Process::~Process() {
  stop();
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_code_(std::exchange(other.exit_code_, std::nullopt)),
      log_file_(std::move(other.log_file_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    exit_code_ = std::exchange(other.exit_code_, std::nullopt);
    log_file_ = std::move(other.log_file_);
  }
  return *this;
}

Process Process::spawn(std::vector<std::string> argv,
                       std::map<std::string, std::string> env_overrides,
                       std::filesystem::path log_file, std::optional<std::string> run_as_user) {
  SpawnOptions options;
  options.argv = std::move(argv);
  options.env_overrides = std::move(env_overrides);
  options.log_file = std::move(log_file);
  options.run_as_user = std::move(run_as_user);
  return launch(options);
}

Process Process::launch(const SpawnOptions& options) {
  if (options.argv.empty()) {
    throw std::invalid_argument("Process::launch: empty argv");
  }
  std::vector<std::string> args = options.argv;
  std::vector<std::string> env_strings = buildEnvironment(options);
  std::vector<char*> c_args = cStrings(args);
  std::vector<char*> c_env = cStrings(env_strings);
  std::optional<Credentials> creds;
  if (options.run_as_user) {
    creds = lookUpUser(*options.run_as_user);
  }
  const std::string cwd = options.working_dir.string();

  Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (devnull.fd < 0) {
    throw std::system_error(errno, std::generic_category(), "open(/dev/null)");
  }
  Fd log;
  if (!options.log_file.empty()) {
    log.fd = ::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log.fd < 0) {
      throw std::system_error(errno, std::generic_category(),
                              "open(" + options.log_file.string() + ")");
    }
  }
  const int out_fd = log.fd >= 0 ? log.fd : devnull.fd;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  Fd report_read(pipe_fds[0]);
  Fd report_write(pipe_fds[1]);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only from here on.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for SIGKILL/SIGSTOP and RT gaps
    }
    if (::dup2(devnull.fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
        ::dup2(out_fd, STDERR_FILENO) < 0) {
      childFail(report_write.fd, 0);
    }
    if (creds) {
      if (::setgroups(creds->groups.size(), creds->groups.data()) != 0) {
        childFail(report_write.fd, 1);
      }
      if (::setgid(creds->gid) != 0) {
        childFail(report_write.fd, 2);
      }
      if (::setuid(creds->uid) != 0) {
        childFail(report_write.fd, 3);
      }
    }
    // After the credential change: changing euid clears the parent-death signal.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
      childFail(report_write.fd, 4);
    }
    if (::getppid() != parent) {
      ::_exit(127);  // the parent died before prctl took effect
    }
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      childFail(report_write.fd, 5);
    }
    ::execvpe(c_args[0], c_args.data(), c_env.data());
    childFail(report_write.fd, 6);
  }

  ::close(report_write.fd);
  report_write.fd = -1;
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.fd, &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("cannot start " + args[0] + ": " + kStageNames[failure.stage] + ": " +
                             std::strerror(failure.error));
  }
  Process process;
  process.pid_ = pid;
  process.log_file_ = options.log_file;
  return process;
}

bool Process::tryReap() {
  return reap(false);
}

bool Process::reap(bool block) {
  if (pid_ <= 0 || exit_code_) {
    return true;
  }
  // WNOWAIT first: while the exited child is an unreaped zombie its pid (and so its process
  // group id) cannot be reused, which makes sweeping the rest of its group safe.
  siginfo_t info{};
  int r;
  do {
    r = ::waitid(P_PID, pid_, &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    exit_code_ = -1;  // someone else reaped it; treat as gone
    return true;
  }
  if (info.si_pid != pid_) {
    return false;
  }
  ::kill(-pid_, SIGKILL);  // leftovers such as a shell's background children
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_code_ = exitCodeOf(status);
  return true;
}

bool Process::running() {
  return pid_ > 0 && !tryReap();
}

void Process::signal(int sig) {
  if (running()) {
    ::kill(pid_, sig);
  }
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  if (exit_code_) {
    return exit_code_;
  }
  if (timeout == std::chrono::milliseconds::max()) {
    reap(true);
    return exit_code_;
  }
  // No portable "waitpid with timeout": poll, starting fine-grained so fast exits cost ~1 ms.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto step = std::chrono::milliseconds(1);
  while (!tryReap()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(step, deadline - now));
    step = std::min(step * 2, std::chrono::milliseconds(20));
  }
  return exit_code_;
}

std::optional<int> Process::stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  if (running()) {
    ::kill(pid_, sig);
    if (sig != SIGKILL && sig != SIGCONT) {
      ::kill(pid_, SIGCONT);  // a SIGSTOPped child would never act on `sig`
    }
    if (!wait(grace)) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  return exit_code_;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string readFileTail(const std::filesystem::path& path, std::size_t max_bytes) {
  std::string text = readFile(path);
  if (text.size() > max_bytes) {
    text = "..." + text.substr(text.size() - max_bytes);
  }
  return text;
}

}  // namespace pepeunit::testing
