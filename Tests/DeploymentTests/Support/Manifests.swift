//===----------------------------------------------------------------------===//
// Deployment test support: the Kubernetes objects of a rendered kustomization.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport

/// One Kubernetes object of a rendered kustomization.
struct KubeObject: Sendable, CustomStringConvertible {
  var json: JSON
  /// The object's YAML document as kubectl printed it.
  var text: String

  var apiVersion: String { json["apiVersion"]?.string ?? "" }
  var kind: String { json["kind"]?.string ?? "" }
  var name: String { json[path: "metadata.name"]?.string ?? "" }
  var namespace: String? { json[path: "metadata.namespace"]?.string }
  /// The API group (`""` for the core group `v1`).
  var group: String { apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : "" }
  var isIstio: Bool { group.hasSuffix(".istio.io") }
  /// A prometheus-operator object (ServiceMonitor, PrometheusRule).
  var isPrometheusOperator: Bool { group == "monitoring.coreos.com" }
  var spec: JSON? { json["spec"] }

  var description: String { "\(kind) \(namespace.map { "\($0)/" } ?? "")\(name)" }
}

/// The output of `kubectl kustomize DIR`, as text and as objects.
struct Rendering: Sendable {
  var directory: String
  var yaml: String
  var objects: [KubeObject]

  func all(_ kind: String) -> [KubeObject] { objects.filter { $0.kind == kind } }

  /// The only object of `kind` (named `name`, when given); throws with the list of what there is.
  func one(_ kind: String, named name: String? = nil) throws -> KubeObject {
    let matches = all(kind).filter { name == nil || $0.name == name }
    guard matches.count == 1 else {
      throw TestFailure(
        "\(directory): expected one \(kind)\(name.map { " named \($0)" } ?? ""), found \(matches.count) among \(objects)")
    }
    return matches[0]
  }

  /// The Augmenter Deployment's pod spec and its (only) container.
  func augmenterPod() throws -> (deployment: KubeObject, pod: JSON, container: JSON) {
    let deployment = try one("Deployment", named: "augmenter")
    guard let pod = deployment.json[path: "spec.template.spec"],
      let containers = pod["containers"]?.array, containers.count == 1
    else {
      throw TestFailure("\(directory): the augmenter Deployment should have a pod spec with exactly one container")
    }
    return (deployment, pod, containers[0])
  }
}

/// Renders kustomizations once per test run (each render is a kubectl process).
actor Kustomize {
  static let shared = Kustomize()
  /// Every kustomization directory the tests render; the first is the base.
  static let directories = [
    "k8s/base", "k8s/overlays/istio-sidecar", "k8s/overlays/istio-egress-gateway", "k8s/overlays/istio-ext-proc",
    "k8s/overlays/token-exchange", "k8s/overlays/monitoring",
  ]

  private var renderings: [String: Task<Rendering, any Error>] = [:]

  func render(_ directory: String) async throws -> Rendering {
    if let task = renderings[directory] { return try await task.value }
    let task = Task { try await Self.renderNow(directory) }
    renderings[directory] = task
    return try await task.value
  }

  private static func renderNow(_ directory: String) async throws -> Rendering {
    let result = try await Command.run(try Tools.kubectl(), ["kustomize", Repository.url(directory).path])
    guard result.succeeded else { throw TestFailure("kubectl kustomize \(directory) failed: \(result)") }
    let parsed = try await YAML.documents(result.stdout)
    // kubectl separates documents with a `---` line; inside a block scalar such a line is indented.
    var texts: [String] = []
    var current: [Substring] = []
    for line in result.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
      if line == "---" {
        texts.append(current.joined(separator: "\n"))
        current = []
      } else {
        current.append(line)
      }
    }
    texts.append(current.joined(separator: "\n"))
    texts = texts.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    guard texts.count == parsed.count else {
      throw TestFailure("\(directory): \(texts.count) YAML documents by `---` lines but Yams read \(parsed.count)")
    }
    let objects = zip(parsed, texts).map { KubeObject(json: $0, text: $1) }
    return Rendering(directory: directory, yaml: result.stdout, objects: objects)
  }
}
