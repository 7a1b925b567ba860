//===----------------------------------------------------------------------===//
// Deployment tests: Kubernetes manifests (k8s/).
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// Issue 3, item 5: the kustomize base and both Istio overlays render, every core Kubernetes object
/// passes its schema, and the pieces fit together (ports, probes, config, security settings).
@Suite("Kubernetes manifests (k8s/)")
struct KubernetesManifestTests {
  /// The oldest Kubernetes the manifests target (grpc probes GA in 1.27, matchLabelKeys and
  /// unhealthyPodEvictionPolicy on by default since 1.27/1.28) and the newest schema
  /// kubernetes-validate ships.
  static let schemaVersions = ["1.30.0", "1.37.0"]
  /// The only CRD kinds the overlays may use; IstioManifestTests checks each of them.
  static let istioKinds: Set = [
    "AuthorizationPolicy", "ServiceEntry", "Gateway", "VirtualService", "DestinationRule", "EnvoyFilter",
  ]

  /// The prometheus-operator kinds k8s/components/monitoring uses; MonitoringManifestTests checks each.
  static let prometheusOperatorKinds: Set = ["ServiceMonitor", "PrometheusRule"]

  @Test("renders, and every core object passes kubernetes-validate --strict", arguments: Kustomize.directories)
  func coreObjectsPassTheirSchema(directory: String) async throws {
    let rendering = try await Kustomize.shared.render(directory)
    #expect(!rendering.objects.isEmpty, "\(directory) rendered no objects")
    for object in rendering.objects {
      #expect(
        !object.apiVersion.isEmpty && !object.kind.isEmpty && !object.name.isEmpty,
        "every object needs apiVersion, kind and metadata.name: \(object.text)")
    }
    for object in rendering.objects where object.isIstio {
      #expect(Self.istioKinds.contains(object.kind), "\(object) has no structural check in these tests")
    }
    for object in rendering.objects where object.isPrometheusOperator {
      #expect(Self.prometheusOperatorKinds.contains(object.kind), "\(object) has no structural check in these tests")
    }

    // kubernetes-validate has no schema for custom resources (it would only warn): those are
    // checked field by field in IstioManifestTests and MonitoringManifestTests.
    let core = rendering.objects.filter { !$0.isIstio && !$0.isPrometheusOperator }
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("k8s-validate-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let file = scratch.appendingPathComponent("core.yaml")
    try core.map(\.text).joined(separator: "\n---\n").write(to: file, atomically: true, encoding: .utf8)

    let validator = try Tools.kubernetesValidate()
    for version in Self.schemaVersions {
      let result = try await Command.run(validator, ["--strict", "--kubernetes-version", version, file.path])
      #expect(result.succeeded, "\(directory) against Kubernetes \(version): \(result)")
      // A core object without a schema only earns a warning from kubernetes-validate: count passes.
      let passed = (result.stdout + result.stderr).split(separator: "\n").filter { $0.contains(" passed for resource ") }
      #expect(
        passed.count == core.count,
        "\(directory) against \(version): \(passed.count) of \(core.count) objects passed: \(result)")
    }
  }

  @Test("Deployment: 2 replicas, probes, resources, spread, non-root read-only security context", arguments: Kustomize.directories)
  func deployment(directory: String) async throws {
    let rendering = try await Kustomize.shared.render(directory)
    let (deployment, pod, container) = try rendering.augmenterPod()
    #expect(deployment.spec?["replicas"]?.int == 2)

    // Security: pod and container.
    let podSecurity = pod["securityContext"]
    #expect(podSecurity?["runAsNonRoot"]?.bool == true)
    #expect(podSecurity?["runAsUser"]?.int == 65532)
    #expect(podSecurity?[path: "seccompProfile.type"]?.string == "RuntimeDefault")
    let security = container["securityContext"]
    #expect(security?["allowPrivilegeEscalation"]?.bool == false)
    #expect(security?["readOnlyRootFilesystem"]?.bool == true)
    #expect(security?[path: "capabilities.drop"]?.strings == ["ALL"])
    if let user = security?["runAsUser"] { #expect(user.int == 65532) }
    #expect(pod["automountServiceAccountToken"]?.bool == false, "Augmenter never calls the API server")
    #expect(pod["enableServiceLinks"]?.bool == false, "service links inject AUGMENTER_* variables")
    let account = try #require(pod["serviceAccountName"]?.string)
    #expect(rendering.all("ServiceAccount").contains { $0.name == account }, "ServiceAccount \(account) is not rendered")

    // Probes: readiness over gRPC health on the check port, liveness and startup on /healthz.
    let checkPort = try #require(Self.containerPort(container, named: "grpc-authz"))
    let adminPort = try #require(Self.containerPort(container, named: "http-admin"))
    #expect(checkPort == 9191 && adminPort == 9901)
    #expect(container[path: "readinessProbe.grpc.port"]?.int == checkPort, "readiness: gRPC health on the check port")
    for probe in ["livenessProbe", "startupProbe"] {
      #expect(container[path: "\(probe).httpGet.path"]?.string == "/healthz", "\(probe) asks /healthz")
      #expect(
        Self.resolve(container[path: "\(probe).httpGet.port"], in: container) == adminPort,
        "\(probe) goes to the admin port")
    }

    // Resources.
    for key in ["requests.cpu", "requests.memory", "limits.memory"] {
      #expect(container[path: "resources.\(key)"]?.string != nil, "resources.\(key) is set")
    }

    // Spread the replicas: topology spread over nodes, or pod anti-affinity.
    let labels = try #require(deployment.json[path: "spec.template.metadata.labels"]?.stringMap)
    let spread = pod["topologySpreadConstraints"]?.array ?? []
    let byNode = spread.contains { constraint in
      constraint["topologyKey"]?.string == "kubernetes.io/hostname"
        && Self.selects(constraint[path: "labelSelector.matchLabels"]?.stringMap, labels)
    }
    #expect(byNode || pod[path: "affinity.podAntiAffinity"] != nil, "replicas are spread across nodes")
  }

  @Test(
    "Service: named ports, appProtocol grpc on 9191 and http on 9901; PodDisruptionBudget minAvailable 1", arguments: Kustomize.directories)
  func serviceAndDisruptionBudget(directory: String) async throws {
    let rendering = try await Kustomize.shared.render(directory)
    let (deployment, _, container) = try rendering.augmenterPod()
    let podLabels = try #require(deployment.json[path: "spec.template.metadata.labels"]?.stringMap)
    #expect(
      deployment.json[path: "spec.selector.matchLabels"]?.stringMap.map { Self.selects($0, podLabels) } == true)

    let service = try rendering.one("Service", named: "augmenter")
    #expect(Self.selects(service.spec?["selector"]?.stringMap, podLabels), "the Service selects Augmenter's pods")
    let ports = service.spec?["ports"]?.array ?? []
    for port in ports {
      #expect(port["name"]?.string?.isEmpty == false, "every Service port is named: \(port)")
    }
    let check = try #require(ports.first { $0["port"]?.int == 9191 }, "the Service exposes 9191")
    #expect(check["appProtocol"]?.string == "grpc", "Istio must treat the check port as HTTP/2")
    #expect(check["name"]?.string?.hasPrefix("grpc") == true, "port name prefix grpc- for Istio's name-based detection")
    #expect(Self.resolve(check["targetPort"], in: container) == 9191)
    let admin = try #require(ports.first { $0["port"]?.int == 9901 }, "the Service exposes 9901")
    #expect(admin["appProtocol"]?.string == "http")
    #expect(Self.resolve(admin["targetPort"], in: container) == 9901)

    let budget = try rendering.one("PodDisruptionBudget")
    #expect(budget.spec?["minAvailable"]?.int == 1)
    #expect(Self.selects(budget.spec?[path: "selector.matchLabels"]?.stringMap, podLabels), "the PDB covers the pods")
    #expect((deployment.spec?["replicas"]?.int ?? 0) > 1, "minAvailable 1 needs more than one replica to allow drains")
  }

  @Test("ConfigMap's config.yaml passes `augmenter validate` and agrees with the Deployment", arguments: Kustomize.directories)
  func configuration(directory: String) async throws {
    let rendering = try await Kustomize.shared.render(directory)
    let (_, pod, container) = try rendering.augmenterPod()

    // serve --config <mountPath>/<key> of a mounted ConfigMap that exists in the rendering.
    let args = container["args"]?.strings ?? []
    let configIndex = try #require(args.firstIndex(of: "--config"), "args: \(args)")
    #expect(args.first == "serve")
    let configPath = try #require(args.indices.contains(configIndex + 1) ? args[configIndex + 1] : nil)
    let configDirectory = (configPath as NSString).deletingLastPathComponent
    let configKey = (configPath as NSString).lastPathComponent
    let mount = try #require(
      (container["volumeMounts"]?.array ?? []).first { $0["mountPath"]?.string == configDirectory },
      "a volume is mounted at \(configDirectory)")
    let volume = try #require((pod["volumes"]?.array ?? []).first { $0["name"] == mount["name"] })
    let mapName = try #require(volume[path: "configMap.name"]?.string, "the config volume is a ConfigMap")
    let configMap = try rendering.one("ConfigMap", named: mapName)
    let text = try #require(configMap.json[path: "data"]?[configKey]?.string, "ConfigMap \(mapName) has \(configKey)")

    let config = try await YAML.document(text)
    let providers = config["providers"]?.array ?? []
    #expect(!providers.isEmpty)

    // augmenter validate on the file as rendered. It checks that the credential files it names
    // are readable; here they are stand-ins in a scratch directory, once this test has checked
    // that the pod mounts each of them from the right kind of volume.
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("k8s-config-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    var validated = text
    for provider in providers {
      for key in ["subject_token_file", "client_secret_file", "private_key_file"] {
        guard let path = provider[key]?.string else { continue }
        let volume = try Self.volume(mounting: path, pod: pod, container: container, key: key)
        if key == "subject_token_file" {
          let source = try #require(
            (volume[path: "projected.sources"]?.array ?? []).first { $0["serviceAccountToken"] != nil },
            "\(key) \(path) is a projected service-account token")
          #expect(source[path: "serviceAccountToken.path"]?.string == (path as NSString).lastPathComponent)
          #expect(source[path: "serviceAccountToken.audience"]?.string?.isEmpty == false, "the subject token names its audience")
          // Kubernetes refuses less than 600 s; the kubelet rotates it at 80 % of its life.
          #expect((source[path: "serviceAccountToken.expirationSeconds"]?.int ?? 0) >= 600)
        } else {
          #expect(volume[path: "secret.secretName"]?.string?.isEmpty == false, "\(key) \(path) comes from a Secret")
        }
        let standIn = scratch.appendingPathComponent(key)
        try Data("stand-in\n".utf8).write(to: standIn)
        validated = validated.replacingOccurrences(of: path, with: standIn.path)
      }
    }
    let file = scratch.appendingPathComponent("config.yaml")
    try validated.write(to: file, atomically: true, encoding: .utf8)
    let result = try await Command.run(
      try Tools.augmenter(), ["validate", file.path], environment: Command.augmenterEnvironment())
    #expect(result.succeeded, "augmenter validate on \(directory)'s config.yaml: \(result)")
    #expect(result.stdout.contains("ok"), "\(result)")

    // The configuration agrees with the container.
    #expect(Self.port(of: config["listen"]?.string) == Self.containerPort(container, named: "grpc-authz"))
    #expect(Self.port(of: config["admin_listen"]?.string) == Self.containerPort(container, named: "http-admin"))

    // token_file is the projected, audience-bound service-account token.
    for provider in providers {
      guard let tokenFile = provider["token_file"]?.string else { continue }
      let tokenDirectory = (tokenFile as NSString).deletingLastPathComponent
      let tokenMount = try #require(
        (container["volumeMounts"]?.array ?? []).first { $0["mountPath"]?.string == tokenDirectory },
        "token_file \(tokenFile): nothing is mounted at \(tokenDirectory)")
      let tokenVolume = try #require((pod["volumes"]?.array ?? []).first { $0["name"] == tokenMount["name"] })
      let source = try #require(
        (tokenVolume[path: "projected.sources"]?.array ?? []).first { $0["serviceAccountToken"] != nil },
        "\(tokenDirectory) is a projected service-account token")
      #expect(source[path: "serviceAccountToken.path"]?.string == (tokenFile as NSString).lastPathComponent)
      #expect(source[path: "serviceAccountToken.audience"]?.string?.isEmpty == false, "the token names its audience")
    }

    // The pod's grace period covers Augmenter's own drain: drain_delay (still serving while
    // NOT_SERVING) plus shutdown_grace_period (in-flight checks after GOAWAY), and any preStop.
    let grace = try #require(durationSeconds(config["shutdown_grace_period"]?.string ?? "10s"))
    let drainDelay = try #require(durationSeconds(config["drain_delay"]?.string ?? "5s"))
    let preStop = Self.preStopSeconds(container)
    let termination = Double(pod["terminationGracePeriodSeconds"]?.int ?? 30)
    #expect(
      termination > grace + drainDelay + preStop,
      "terminationGracePeriodSeconds \(termination) must exceed preStop \(preStop)s + drain_delay \(drainDelay)s + shutdown_grace_period \(grace)s"
    )
    // The drain is Augmenter's own: no preStop sleep stands in for it.
    #expect(preStop == 0, "no preStop sleep is needed: drain_delay keeps serving after SIGTERM")
    #expect(config["drain_delay"] != nil, "config.yaml states drain_delay next to shutdown_grace_period")
  }

  // MARK: - Helpers

  /// The pod volume mounted at the directory of `path` (a file the configuration names).
  static func volume(mounting path: String, pod: JSON, container: JSON, key: String) throws -> JSON {
    let directory = (path as NSString).deletingLastPathComponent
    let mount = try #require(
      (container["volumeMounts"]?.array ?? []).first { $0["mountPath"]?.string == directory },
      "\(key) \(path): nothing is mounted at \(directory)")
    return try #require((pod["volumes"]?.array ?? []).first { $0["name"] == mount["name"] }, "no volume \(mount["name"]?.string ?? "")")
  }

  static func containerPort(_ container: JSON, named name: String) -> Int? {
    (container["ports"]?.array ?? []).first { $0["name"]?.string == name }?["containerPort"]?.int
  }

  /// A probe or Service target port: a number, or the name of one of the container's ports.
  static func resolve(_ reference: JSON?, in container: JSON) -> Int? {
    if let number = reference?.int { return number }
    if let name = reference?.string { return containerPort(container, named: name) }
    return nil
  }

  /// Whether `selector` (matchLabels) is non-empty and matches `labels`.
  static func selects(_ selector: [String: String]?, _ labels: [String: String]) -> Bool {
    guard let selector, !selector.isEmpty else { return false }
    return selector.allSatisfy { labels[$0.key] == $0.value }
  }

  /// The port of `host:port` or `[v6]:port`.
  static func port(of address: String?) -> Int? {
    guard let address, let colon = address.lastIndex(of: ":") else { return nil }
    return Int(address[address.index(after: colon)...])
  }

  static func preStopSeconds(_ container: JSON) -> Double {
    if let seconds = container[path: "lifecycle.preStop.sleep.seconds"]?.int { return Double(seconds) }
    if let command = container[path: "lifecycle.preStop.exec.command"]?.strings, command.first == "sleep",
      let value = command.dropFirst().first, let seconds = Double(value)
    {
      return seconds
    }
    return 0
  }
}
