//===----------------------------------------------------------------------===//
// Deployment tests: Istio configuration (k8s/overlays).
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// Issue 3, item 5 (a) and (b): the Istio objects kubernetes-validate has no schema for are checked
/// here, field by field, and against each other (provider names, hosts, gateways, subsets, ports).
@Suite("Istio configuration (k8s/overlays)")
struct IstioManifestTests {
  static let meshConfigPath = "k8s/overlays/istio-sidecar/mesh-config.yaml"
  static let meshOverlays = ["k8s/overlays/istio-sidecar", "k8s/overlays/istio-egress-gateway"]

  /// The extension providers of mesh-config.yaml: name -> (provider kind, its settings).
  static func providers() async throws -> [String: (kind: String, settings: JSON)] {
    let mesh = try await YAML.document(try Repository.text(meshConfigPath))
    let list = try #require(mesh[path: "meshConfig.extensionProviders"]?.array, "meshConfig.extensionProviders")
    var providers: [String: (kind: String, settings: JSON)] = [:]
    for entry in list {
      let name = try #require(entry["name"]?.string, "an extension provider without a name: \(entry)")
      #expect(providers[name] == nil, "provider \(name) is listed twice")
      let kinds = (entry.object ?? [:]).filter { $0.key != "name" }
      #expect(kinds.count == 1, "provider \(name) must have exactly one kind: \(entry)")
      if let (kind, settings) = kinds.first { providers[name] = (kind, settings) }
    }
    return providers
  }

  @Test("mesh-config.yaml: augmenter-grpc and augmenter-http reach the Service's grpc port, timeout ≤ 1s, failOpen false")
  func meshConfigProviders() async throws {
    let base = try await Kustomize.shared.render("k8s/base")
    let service = try base.one("Service", named: "augmenter")
    let namespace = try #require(service.namespace)
    let host = "\(service.name).\(namespace).svc.cluster.local"
    let grpcPort = try #require(
      (service.spec?["ports"]?.array ?? []).first { $0["appProtocol"]?.string == "grpc" }?["port"]?.int)

    let providers = try await Self.providers()
    let grpc = try #require(providers["augmenter-grpc"], "mesh-config.yaml defines augmenter-grpc")
    let http = try #require(providers["augmenter-http"], "mesh-config.yaml defines augmenter-http")
    #expect(grpc.kind == "envoyExtAuthzGrpc")
    #expect(http.kind == "envoyExtAuthzHttp")

    for (name, provider) in [("augmenter-grpc", grpc), ("augmenter-http", http)] {
      let settings = provider.settings
      #expect(settings["service"]?.string == host, "\(name): service must be the rendered Service \(host)")
      #expect(settings["port"]?.int == grpcPort, "\(name): port must be the Service's appProtocol grpc port \(grpcPort)")
      let timeout = settings["timeout"]?.string.flatMap(durationSeconds)
      #expect(
        timeout.map { $0 > 0 && $0 <= 1 } == true,
        "\(name): set a short timeout (Istio's default is 600s), got \(String(describing: settings["timeout"]))")
      #expect(settings["failOpen"]?.bool == false, "\(name): failOpen false, so requests never go out without their tokens")
      if let status = settings["statusOnError"] {
        #expect(status.string.flatMap(Int.init).map { (400...599).contains($0) } == true, "\(name): statusOnError \(status)")
      }
    }

    // HTTP mode: which request headers go to Augmenter, which answer headers reach the upstream.
    let settings = http.settings
    #expect(settings["includeRequestHeadersInCheck"]?.strings?.contains("x-request-id") == true)
    let upstream = settings["headersToUpstreamOnAllow"]?.strings ?? []
    #expect(!upstream.contains("*"), "Istio rejects a bare * pattern")
    for header in ["authorization", "x-tenant"] {
      #expect(Self.matches(upstream, header), "headersToUpstreamOnAllow must let \(header) through: \(upstream)")
    }
    // Every static header of the shipped configuration is copied upstream too.
    let configText = try #require(
      base.one("ConfigMap").json[path: "data"]?["config.yaml"]?.string, "the base ConfigMap holds config.yaml")
    let config = try await YAML.document(configText)
    for header in (config["headers"]?.object ?? [:]).keys {
      #expect(Self.matches(upstream, header.lowercased()), "static header \(header) is missing from headersToUpstreamOnAllow")
    }
    if let prefix = settings["pathPrefix"]?.string {
      #expect(prefix.hasPrefix("/"), "pathPrefix must start with /")
      #expect(!prefix.hasPrefix("/envoy.") && !prefix.hasPrefix("/grpc."), "pathPrefix must not look like a gRPC path")
    }
  }

  @Test("every AuthorizationPolicy is CUSTOM with a provider from mesh-config.yaml, a selector and rules", arguments: meshOverlays)
  func authorizationPolicies(directory: String) async throws {
    let rendering = try await Kustomize.shared.render(directory)
    let providers = try await Self.providers()
    let (deployment, _, _) = try rendering.augmenterPod()
    let augmenterLabels = try #require(deployment.json[path: "spec.template.metadata.labels"]?.stringMap)
    let policies = rendering.all("AuthorizationPolicy")
    #expect(!policies.isEmpty, "\(directory) has no AuthorizationPolicy")

    var providerBySelector: [String: String] = [:]
    for policy in policies {
      let spec = try #require(policy.spec, "\(policy) has no spec")
      #expect(policy.apiVersion == "security.istio.io/v1")
      #expect(policy.namespace != nil, "\(policy) must name its namespace")
      #expect(spec["action"]?.string == "CUSTOM", "\(policy): action CUSTOM")
      let provider = spec[path: "provider.name"]?.string
      #expect(
        provider.map { providers[$0] != nil } == true,
        "\(policy): provider \(String(describing: provider)) is not in mesh-config.yaml (\(providers.keys.sorted()))")
      let selector = spec[path: "selector.matchLabels"]?.stringMap ?? [:]
      let targetRefs = spec["targetRefs"]?.array ?? []
      #expect(!selector.isEmpty || !targetRefs.isEmpty, "\(policy): selector.matchLabels or targetRefs")
      let rules = spec["rules"]?.array ?? []
      #expect(!rules.isEmpty, "\(policy): a CUSTOM policy without rules matches no request")

      // Augmenter's own sidecar must never ask Augmenter.
      if policy.namespace == deployment.namespace {
        #expect(
          !selector.isEmpty && !KubernetesManifestTests.selects(selector, augmenterLabels),
          "\(policy) would make Augmenter's own sidecar call Augmenter")
      }
      if policy.namespace == "istio-system" && selector.isEmpty && targetRefs.isEmpty {
        Issue.record("\(policy) in the root namespace without a selector applies to every workload, Augmenter included")
      }
      // Only one CUSTOM provider per workload.
      let key = "\(policy.namespace ?? "")|\(selector.sorted { $0.key < $1.key })"
      if let provider, let other = providerBySelector[key] {
        #expect(other == provider, "\(policy): one workload, two CUSTOM providers (\(other), \(provider))")
      }
      providerBySelector[key] = provider
    }
  }

  @Test("Istio objects use the v1 APIs and name their namespace", arguments: meshOverlays)
  func istioObjectsAreV1(directory: String) async throws {
    let rendering = try await Kustomize.shared.render(directory)
    let istio = rendering.objects.filter(\.isIstio)
    #expect(!istio.isEmpty)
    for object in istio {
      #expect(object.apiVersion.hasSuffix(".istio.io/v1"), "\(object): \(object.apiVersion)")
      #expect(object.namespace?.isEmpty == false, "\(object) must name its namespace")
      #expect(object.spec != nil, "\(object) has no spec")
    }
  }

  @Test(
    "ext_proc overlay: an EnvoyFilter puts ext_proc before my-app's inbound router, calling Augmenter's Service with envoy/ext-proc-error-responses.yaml's settings"
  )
  func extProcOverlay() async throws {
    let rendering = try await Kustomize.shared.render("k8s/overlays/istio-ext-proc")
    let filter = try rendering.one("EnvoyFilter")
    // EnvoyFilter has no v1 API (Istio keeps it at v1alpha3).
    #expect(filter.apiVersion == "networking.istio.io/v1alpha3")
    #expect(filter.namespace == "my-app")
    #expect(filter.spec?[path: "workloadSelector.labels"]?.stringMap == ["app": "my-app"])
    let patches = try #require(filter.spec?["configPatches"]?.array)
    #expect(patches.count == 1)
    let patch = try #require(patches.first)
    #expect(patch["applyTo"]?.string == "HTTP_FILTER")
    #expect(patch[path: "match.context"]?.string == "SIDECAR_INBOUND")
    #expect(patch[path: "match.listener.filterChain.filter.name"]?.string == "envoy.filters.network.http_connection_manager")
    #expect(patch[path: "match.listener.filterChain.filter.subFilter.name"]?.string == "envoy.filters.http.router")
    #expect(patch[path: "patch.operation"]?.string == "INSERT_BEFORE")
    #expect(patch[path: "patch.value.name"]?.string == "envoy.filters.http.ext_proc")
    let typed = try #require(patch[path: "patch.value.typed_config"]?.object)

    // The cluster Istio makes for the rendered Service's check port.
    let service = try rendering.one("Service", named: "augmenter")
    let port = try #require(
      service.spec?["ports"]?.array?.first { $0["name"]?.string == "grpc-authz" }?["port"]?.int)
    let namespace = try #require(service.namespace)
    #expect(
      typed["grpc_service"]?[path: "envoy_grpc.cluster_name"]?.string
        == "outbound|\(port)||augmenter.\(namespace).svc.cluster.local")

    // Every other setting is the validated example's (envoy --mode validate runs on it).
    let example = try await YAML.document(
      String(contentsOf: Repository.url("envoy/ext-proc-error-responses.yaml"), encoding: .utf8))
    let chain = example[path: "static_resources.listeners"]?.array?.first?["filter_chains"]?.array?.first
    let manager = chain?["filters"]?.array?.first?["typed_config"]
    let exampleFilter = try #require(
      manager?["http_filters"]?.array?.first { $0["name"]?.string == "envoy.filters.http.ext_proc" }?["typed_config"]?.object)
    #expect(typed.filter { $0.key != "grpc_service" } == exampleFilter.filter { $0.key != "grpc_service" })
    #expect(typed["allow_mode_override"]?.bool == true, "quote_body_bytes needs the mode override")
  }

  @Test("sidecar overlay: the policy selects app: my-app; Augmenter's namespace gets sidecars")
  func sidecarOverlay() async throws {
    let rendering = try await Kustomize.shared.render("k8s/overlays/istio-sidecar")
    let policy = try rendering.one("AuthorizationPolicy")
    #expect(policy.spec?[path: "selector.matchLabels"]?.stringMap == ["app": "my-app"])
    let (deployment, _, _) = try rendering.augmenterPod()
    #expect(policy.namespace != deployment.namespace)
    try Self.expectInjection(rendering, namespace: deployment.namespace)
    #expect(rendering.all("ServiceEntry").isEmpty && rendering.all("Gateway").isEmpty)
  }

  @Test("egress overlay: ServiceEntry, Gateway, VirtualService and DestinationRules route through the gateway with TLS origination")
  func egressRouting() async throws {
    let rendering = try await Kustomize.shared.render("k8s/overlays/istio-egress-gateway")
    let (deployment, _, _) = try rendering.augmenterPod()
    try Self.expectInjection(rendering, namespace: deployment.namespace)

    // ServiceEntry: the external host, HTTP for the apps, TLS for the gateway.
    let entry = try rendering.one("ServiceEntry")
    let hosts = entry.spec?["hosts"]?.strings ?? []
    #expect(!hosts.isEmpty && !hosts.contains { $0.contains("*") }, "\(entry): concrete hosts, got \(hosts)")
    #expect(entry.spec?["location"]?.string == "MESH_EXTERNAL")
    #expect(["DNS", "DNS_ROUND_ROBIN", "STATIC", "NONE"].contains(entry.spec?["resolution"]?.string ?? ""), "\(entry): resolution")
    var entryPorts: [Int: String] = [:]
    for port in entry.spec?["ports"]?.array ?? [] {
      let number = try #require(port["number"]?.int, "\(entry): port without number")
      #expect(port["name"]?.string?.isEmpty == false, "\(entry): port \(number) needs a name")
      entryPorts[number] = port["protocol"]?.string
    }
    #expect(entryPorts[80] == "HTTP", "\(entry): port 80 HTTP, got \(entryPorts)")
    #expect(["HTTPS", "TLS"].contains(entryPorts[443] ?? ""), "\(entry): port 443 HTTPS or TLS, got \(entryPorts)")

    // Gateway: on the egress gateway pods, terminating to HTTP for the entry's hosts.
    let gateway = try rendering.one("Gateway")
    let gatewayNamespace = try #require(gateway.namespace)
    #expect(gateway.spec?[path: "selector"]?.stringMap == ["istio": "egressgateway"])
    let server = try #require(
      (gateway.spec?["servers"]?.array ?? []).first { Set($0["hosts"]?.strings ?? []).isSuperset(of: hosts) },
      "\(gateway): a server for \(hosts)")
    let serverPort = try #require(server[path: "port.number"]?.int)
    #expect(server[path: "port.name"]?.string?.isEmpty == false)
    let serverProtocol = server[path: "port.protocol"]?.string
    #expect(
      serverProtocol == "HTTP" || (serverProtocol == "HTTPS" && server[path: "tls.mode"]?.string == "ISTIO_MUTUAL"),
      "the gateway must see HTTP (HTTP, or HTTPS with ISTIO_MUTUAL) to run an HTTP check: \(server)")

    // VirtualService: mesh -> gateway -> external host.
    let service = try rendering.one("VirtualService")
    let serviceNamespace = try #require(service.namespace)
    let serviceHosts = service.spec?["hosts"]?.strings ?? []
    #expect(!serviceHosts.isEmpty && Set(hosts).isSuperset(of: serviceHosts), "\(service) hosts \(serviceHosts) vs \(hosts)")
    func isOurGateway(_ reference: String) -> Bool {
      let parts = reference.split(separator: "/").map(String.init)
      let (namespace, name) = parts.count == 2 ? (parts[0], parts[1]) : (serviceNamespace, reference)
      return namespace == gatewayNamespace && name == gateway.name
    }
    let gateways = service.spec?["gateways"]?.strings ?? []
    #expect(gateways.contains("mesh") && gateways.contains(where: isOurGateway), "\(service): gateways \(gateways)")
    let routes = service.spec?["http"]?.array ?? []
    func route(from gatewayMatch: (String) -> Bool) -> JSON? {
      routes.first { route in
        (route["match"]?.array ?? []).contains { ($0["gateways"]?.strings ?? []).contains(where: gatewayMatch) }
      }
    }
    let destinationRules = rendering.all("DestinationRule")

    // Hop 1, in the sidecars: to the egress gateway Service over ISTIO_MUTUAL, in a defined subset.
    let meshRoute = try #require(route { $0 == "mesh" }, "\(service): an http route for gateway mesh")
    let toGateway = try #require(meshRoute["route"]?.array?.first?["destination"], "mesh route destination")
    let gatewayHost = try #require(toGateway["host"]?.string)
    #expect(gatewayHost.hasSuffix(".svc.cluster.local") && !hosts.contains(gatewayHost), "mesh traffic goes to the gateway: \(gatewayHost)")
    #expect(toGateway[path: "port.number"]?.int == serverPort, "the mesh route targets the gateway server's port")
    let subsetName = try #require(toGateway["subset"]?.string, "the mesh route names a subset")
    let gatewayRule = try #require(
      destinationRules.first { $0.spec?["host"]?.string == gatewayHost }, "a DestinationRule for \(gatewayHost)")
    let subset = try #require(
      (gatewayRule.spec?["subsets"]?.array ?? []).first { $0["name"]?.string == subsetName }, "subset \(subsetName)")
    let hopOneTLS = (subset[path: "trafficPolicy.portLevelSettings"]?.array ?? [])
      .first { $0[path: "port.number"]?.int == serverPort }?["tls"]
    #expect(hopOneTLS?["mode"]?.string == "ISTIO_MUTUAL", "sidecar to gateway is mesh mTLS: \(String(describing: hopOneTLS))")
    #expect(hopOneTLS?["sni"]?.string.map(hosts.contains) == true, "SNI names the external host")

    // Hop 2, in the gateway: to the external host's TLS port, with TLS originated there.
    let gatewayRoute = try #require(route(from: isOurGateway), "\(service): an http route for the egress Gateway")
    let toExternal = try #require(gatewayRoute["route"]?.array?.first?["destination"])
    let externalHost = try #require(toExternal["host"]?.string)
    #expect(hosts.contains(externalHost))
    let externalPort = try #require(toExternal[path: "port.number"]?.int)
    #expect(["HTTPS", "TLS"].contains(entryPorts[externalPort] ?? ""), "the gateway calls the entry's TLS port, got \(externalPort)")
    let originRule = try #require(
      destinationRules.first { $0.spec?["host"]?.string == externalHost }, "a DestinationRule for \(externalHost)")
    let origination = (originRule.spec?[path: "trafficPolicy.portLevelSettings"]?.array ?? [])
      .first { $0[path: "port.number"]?.int == externalPort }?["tls"]
    #expect(["SIMPLE", "MUTUAL"].contains(origination?["mode"]?.string ?? ""), "TLS origination on \(externalPort)")
  }

  @Test("egress overlay: the CUSTOM policy is on the gateway pods, in their namespace, for the external hosts")
  func egressPolicy() async throws {
    let rendering = try await Kustomize.shared.render("k8s/overlays/istio-egress-gateway")
    let gateway = try rendering.one("Gateway")
    let entry = try rendering.one("ServiceEntry")
    let policy = try rendering.one("AuthorizationPolicy")
    #expect(policy.namespace == gateway.namespace, "the policy lives with the gateway (\(String(describing: gateway.namespace)))")
    #expect(policy.spec?[path: "selector.matchLabels"]?.stringMap == gateway.spec?["selector"]?.stringMap)
    let policyHosts = (policy.spec?["rules"]?.array ?? [])
      .flatMap { $0["to"]?.array ?? [] }
      .flatMap { $0[path: "operation.hosts"]?.strings ?? [] }
    let entryHosts = entry.spec?["hosts"]?.strings ?? []
    #expect(!entryHosts.isEmpty, "\(entry) names no hosts, so the policy check below would check nothing")
    for host in entryHosts {
      #expect(policyHosts.contains(host), "rules.to.operation.hosts must cover \(host): \(policyHosts)")
    }
  }

  // MARK: - Helpers

  /// Istio's header patterns: `abc*` prefix, `*abc` suffix, else exact; case-insensitive.
  static func matches(_ patterns: [String], _ header: String) -> Bool {
    let name = header.lowercased()
    return patterns.contains { raw in
      let pattern = raw.lowercased()
      if pattern.hasSuffix("*") { return name.hasPrefix(pattern.dropLast()) }
      if pattern.hasPrefix("*") { return name.hasSuffix(pattern.dropFirst()) }
      return name == pattern
    }
  }

  /// The namespace Augmenter runs in is labelled for sidecar injection.
  static func expectInjection(_ rendering: Rendering, namespace: String?) throws {
    guard let namespace else { throw TestFailure("\(rendering.directory): the augmenter Deployment names no namespace") }
    let object = try rendering.one("Namespace", named: namespace)
    let labels = object.json[path: "metadata.labels"]?.stringMap ?? [:]
    #expect(
      labels["istio-injection"] == "enabled" || labels["istio.io/rev"] != nil,
      "\(object) must be labelled for sidecar injection: \(labels)")
  }
}
