// Git fixtures: a fork/exec runner with stdin/stdout/stderr pipes, repositories built with the
// git CLI, and a cpp-httplib server that runs `git http-backend` as a CGI.
#include "integration/harness/git_fixtures.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "crypto/base64.hpp"
#include "integration/harness/wait.hpp"

namespace pepeunit::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHttpBackend = "/usr/lib/git-core/git-http-backend";
constexpr long long kEpoch = 1704067200;  // 2024-01-01T00:00:00Z

// A pipe end closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  int* out() { return &fd_; }

 private:
  int fd_ = -1;
};

void makePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  *read_end.out() = fds[0];
  *write_end.out() = fds[1];
}

void setNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

std::string findInPath(const std::string& program, const std::map<std::string, std::string>& env) {
  if (program.find('/') != std::string::npos) {
    return program;
  }
  const auto it = env.find("PATH");
  const std::string path = it != env.end() ? it->second : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t colon = std::min(path.find(':', start), path.size());
    const fs::path candidate = fs::path(path.substr(start, colon - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
    start = colon + 1;
  }
  throw std::runtime_error("program not found in PATH: " + program);
}

void ignoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

std::map<std::string, std::string> gitEnv() {
  return {
      {"PATH", "/usr/bin:/bin"},
      {"HOME", "/tmp"},
      {"LANG", "C"},
      {"GIT_CONFIG_NOSYSTEM", "1"},
      {"GIT_CONFIG_GLOBAL", "/dev/null"},
      {"GIT_TERMINAL_PROMPT", "0"},
      {"GIT_AUTHOR_NAME", "Pepeunit Test"},
      {"GIT_AUTHOR_EMAIL", "test@pepeunit.local"},
      {"GIT_COMMITTER_NAME", "Pepeunit Test"},
      {"GIT_COMMITTER_EMAIL", "test@pepeunit.local"},
  };
}

std::map<std::string, std::string> dateEnv(int clock) {
  const std::string date = std::to_string(kEpoch + 60LL * clock) + " +0000";
  return {{"GIT_AUTHOR_DATE", date}, {"GIT_COMMITTER_DATE", date}};
}

std::vector<CommitSpec> defaultMainCommits() {
  return {
      CommitSpec{"Initial commit",
                 {{"README.md", "# test unit\n"}, {"main.py", "print('v1')\n"}},
                 {},
                 "v0.1.0",
                 true},
      CommitSpec{"Second commit", {{"main.py", "print('v2')\n"}}, {}, "v0.2.0", false},
      CommitSpec{"Third commit",
                 {{"main.py", "print('v3')\n"}, {"config.json", "{\"debug\": false}\n"}},
                 {},
                 std::nullopt,
                 false},
  };
}

std::vector<CommitSpec> defaultDevCommits() {
  return {CommitSpec{"Dev commit", {{"dev.txt", "dev work\n"}}, {}, "v0.3.0-dev", false}};
}

// Commits `spec` on whatever branch is checked out in `repo.work_dir`.
std::string makeCommit(LocalRepo& repo, const CommitSpec& spec) {
  for (const auto& [path, content] : spec.files) {
    const fs::path file = repo.work_dir / path;
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) {
      throw std::runtime_error("cannot write " + file.string());
    }
  }
  for (const auto& path : spec.remove) {
    runGit(repo.work_dir, {"rm", "-q", "-r", "--", path});
  }
  runGit(repo.work_dir, {"add", "-A"});
  ++repo.clock;
  const auto dates = dateEnv(repo.clock);
  runGit(repo.work_dir, {"commit", "-q", "--allow-empty", "-m", spec.message}, dates);
  std::string sha = runGit(repo.work_dir, {"rev-parse", "HEAD"});
  if (spec.tag) {
    if (spec.annotated_tag) {
      runGit(repo.work_dir, {"tag", "-a", *spec.tag, "-m", "Release " + *spec.tag}, dates);
    } else {
      runGit(repo.work_dir, {"tag", *spec.tag});
    }
  }
  return sha;
}

std::string trim(std::string_view text) {
  const std::size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) {
    return {};
  }
  const std::size_t end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

}  // namespace

RunResult runProgram(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env, const std::string& stdin_data,
                     const std::filesystem::path& cwd) {
  if (argv.empty()) {
    throw std::invalid_argument("runProgram: empty argv");
  }
  ignoreSigpipeOnce();
  const std::string program = findInPath(argv[0], env);
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [key, value] : env) {
    std::string entry = key;
    entry += '=';
    entry += value;
    env_strings.push_back(std::move(entry));
  }
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const auto& arg : argv) {
    c_argv.push_back(const_cast<char*>(arg.c_str()));
  }
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  c_env.reserve(env_strings.size() + 1);
  for (auto& entry : env_strings) {
    c_env.push_back(entry.data());
  }
  c_env.push_back(nullptr);
  const std::string dir = cwd.string();

  Fd in_read, in_write, out_read, out_write, err_read, err_write;
  makePipe(in_read, in_write);
  makePipe(out_read, out_write);
  makePipe(err_read, err_write);

  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(in_read.get(), 0) < 0 || ::dup2(out_write.get(), 1) < 0 ||
        ::dup2(err_write.get(), 2) < 0 || (!dir.empty() && ::chdir(dir.c_str()) != 0)) {
      ::_exit(126);
    }
    ::execve(program.c_str(), c_argv.data(), c_env.data());
    ::_exit(127);
  }
  in_read.reset();
  out_write.reset();
  err_write.reset();
  setNonBlocking(in_write.get());
  setNonBlocking(out_read.get());
  setNonBlocking(err_read.get());

  RunResult result;
  std::size_t written = 0;
  if (stdin_data.empty()) {
    in_write.reset();
  }
  char buffer[65536];
  while (out_read.get() >= 0 || err_read.get() >= 0) {
    pollfd fds[3];
    nfds_t count = 0;
    Fd* owners[3];
    std::string* sinks[3];
    auto add = [&](Fd& fd, short events, std::string* sink) {
      if (fd.get() >= 0) {
        fds[count] = pollfd{fd.get(), events, 0};
        owners[count] = &fd;
        sinks[count] = sink;
        ++count;
      }
    };
    add(in_write, POLLOUT, nullptr);
    add(out_read, POLLIN, &result.out);
    add(err_read, POLLIN, &result.err);
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (sinks[i] == nullptr) {
        const ssize_t n =
            ::write(fds[i].fd, stdin_data.data() + written, stdin_data.size() - written);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        }
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) {
          owners[i]->reset();  // done, or the child stopped reading (EPIPE)
        }
      } else {
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
        if (n > 0) {
          sinks[i]->append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          owners[i]->reset();
        }
      }
    }
  }
  in_write.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string runGit(const std::filesystem::path& cwd, const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env_extra,
                   const std::string& stdin_data) {
  auto env = gitEnv();
  for (const auto& [key, value] : env_extra) {
    env[key] = value;
  }
  std::vector<std::string> argv{"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult result = runProgram(argv, env, stdin_data, cwd);
  if (result.exit_code != 0) {
    std::string command = "git";
    for (const auto& arg : args) {
      command += " " + arg;
    }
    throw std::runtime_error(command + " (in " + cwd.string() + ") exited " +
                             std::to_string(result.exit_code) + ": " + result.err);
  }
  while (!result.out.empty() && (result.out.back() == '\n' || result.out.back() == '\r')) {
    result.out.pop_back();
  }
  return result.out;
}

LocalRepo makeLocalRepo(const std::filesystem::path& dir, const std::string& name,
                        const RepoSpec& spec) {
  LocalRepo repo;
  repo.name = name;
  repo.bare_dir = dir / (name + ".git");
  repo.work_dir = dir / (name + ".work");
  fs::create_directories(dir);
  runGit(dir, {"init", "-q", "--bare", "-b", "main", repo.bare_dir.string()});
  runGit(dir, {"init", "-q", "-b", "main", repo.work_dir.string()});
  runGit(repo.work_dir, {"remote", "add", "origin", repo.bare_dir.string()});

  const auto main_specs = spec.main_commits.empty() ? defaultMainCommits() : spec.main_commits;
  const auto dev_specs = spec.dev_commits.empty() ? defaultDevCommits() : spec.dev_commits;
  for (const auto& commit : main_specs) {
    repo.main_commits.push_back(makeCommit(repo, commit));
  }
  const std::size_t from = std::min(spec.dev_from, repo.main_commits.size() - 1);
  runGit(repo.work_dir, {"checkout", "-q", "-b", "dev", repo.main_commits[from]});
  for (const auto& commit : dev_specs) {
    repo.dev_commits.push_back(makeCommit(repo, commit));
  }
  runGit(repo.work_dir, {"checkout", "-q", "main"});
  runGit(repo.work_dir, {"push", "-q", "origin", "main", "dev"});
  runGit(repo.work_dir, {"push", "-q", "origin", "--tags"});
  return repo;
}

std::string commitAndPush(LocalRepo& repo, const std::string& branch, const CommitSpec& spec) {
  const bool exists = !runGit(repo.work_dir, {"branch", "--list", branch}).empty();
  if (exists) {
    runGit(repo.work_dir, {"checkout", "-q", branch});
  } else {
    runGit(repo.work_dir, {"checkout", "-q", "-b", branch});
  }
  std::string sha = makeCommit(repo, spec);
  if (branch == "main") {
    repo.main_commits.push_back(sha);
  } else if (branch == "dev") {
    repo.dev_commits.push_back(sha);
  }
  runGit(repo.work_dir, {"push", "-q", "origin", branch});
  runGit(repo.work_dir, {"push", "-q", "origin", "--tags"});
  return sha;
}

// --- GitHttpServer ------------------------------------------------------------------------

GitHttpServer::GitHttpServer(std::filesystem::path project_root, std::optional<BasicAuth> auth)
    : project_root_(std::move(project_root)),
      auth_(std::move(auth)),
      server_(std::make_unique<httplib::Server>()) {
  server_->set_tcp_nodelay(true);
  const auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    handle(request, response);
  };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) {
    throw std::runtime_error("GitHttpServer: cannot bind a loopback port");
  }
  // The socket is already listening, so clients may connect before this thread gets going.
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

GitHttpServer::~GitHttpServer() {
  // stop() is a no-op until the listen loop has started; wait for it so join() cannot hang.
  pollUntil([this] { return server_->is_running(); }, std::chrono::seconds(10));
  server_->stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::string GitHttpServer::baseUrl() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string GitHttpServer::urlFor(const std::string& relative_path) const {
  return baseUrl() + "/" + relative_path;
}

void GitHttpServer::handle(const httplib::Request& request, httplib::Response& response) {
  if (auth_) {
    const std::string expected =
        "Basic " + crypto::base64Encode(auth_->username + ":" + auth_->password);
    if (request.get_header_value("Authorization") != expected) {
      ++unauthorized_;
      response.status = 401;
      response.set_header("WWW-Authenticate", "Basic realm=\"git\"");
      response.set_content("Unauthorized\n", "text/plain");
      return;
    }
  }
  ++served_;
  std::map<std::string, std::string> env{
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"GIT_PROJECT_ROOT", project_root_.string()},
      {"GIT_HTTP_EXPORT_ALL", "1"},
      {"GIT_CONFIG_NOSYSTEM", "1"},
      {"GIT_CONFIG_GLOBAL", "/dev/null"},
      {"HOME", project_root_.string()},
      {"PATH", "/usr/bin:/bin"},
      {"REQUEST_METHOD", request.method},
      {"PATH_INFO", request.path},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"CONTENT_LENGTH", std::to_string(request.body.size())},
  };
  const std::size_t query = request.target.find('?');
  env["QUERY_STRING"] = query == std::string::npos ? "" : request.target.substr(query + 1);
  if (request.has_header("Content-Type")) {
    env["CONTENT_TYPE"] = request.get_header_value("Content-Type");
  }
  if (request.has_header("Git-Protocol")) {
    env["HTTP_GIT_PROTOCOL"] = request.get_header_value("Git-Protocol");
  }
  if (auth_) {
    env["REMOTE_USER"] = auth_->username;
  }
  // cpp-httplib has already undone any Content-Encoding: gzip of the body, so
  // HTTP_CONTENT_ENCODING is deliberately not passed on.
  const RunResult cgi = runProgram({kHttpBackend}, env, request.body, project_root_);

  std::size_t header_end = cgi.out.find("\r\n\r\n");
  std::size_t body_start = header_end == std::string::npos ? 0 : header_end + 4;
  const std::size_t lf_end = cgi.out.find("\n\n");
  if (lf_end != std::string::npos && (header_end == std::string::npos || lf_end < header_end)) {
    header_end = lf_end;
    body_start = lf_end + 2;
  }
  if (header_end == std::string::npos) {
    response.status = 500;
    response.set_content(
        "git http-backend failed (exit " + std::to_string(cgi.exit_code) + "): " + cgi.err,
        "text/plain");
    return;
  }
  int status = 200;
  std::string content_type = "application/octet-stream";
  std::size_t line_start = 0;
  while (line_start < header_end) {
    const std::size_t line_end = std::min(cgi.out.find('\n', line_start), header_end);
    const std::string_view line(cgi.out.data() + line_start, line_end - line_start);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string key = trim(line.substr(0, colon));
      const std::string value = trim(line.substr(colon + 1));
      if (key == "Status") {
        status = std::stoi(value);
      } else if (key == "Content-Type") {
        content_type = value;
      } else {
        response.set_header(key, value);
      }
    }
    line_start = line_end + 1;
  }
  response.status = status;
  response.set_content(cgi.out.substr(body_start), content_type);
}

}  // namespace pepeunit::testing
