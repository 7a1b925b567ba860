//===----------------------------------------------------------------------===//
// Augmenter — what checks read of the configuration in force, published whole on each reload.
//===----------------------------------------------------------------------===//

public import AugmenterCore

/// The configuration a check decides with: the decider, the check series bound to its rules
/// (series are indexed by the decider's rules, so both must come from the same configuration),
/// and the ext_proc front's error rewriting.
///
/// Immutable; a reload builds a new one and swaps it into a `Published` holder in one step, so a
/// check reads one reference and decides, counts and answers with one configuration throughout.
public final class CheckConfiguration: Sendable {
  /// The decision of every front.
  public let decider: Decider
  /// The gRPC ext_authz front's series.
  public let grpcMetrics: CheckMetrics
  /// The HTTP-mode front's series.
  public let httpMetrics: CheckMetrics
  /// The ext_proc front's series (its request phase).
  public let extProcMetrics: CheckMetrics
  /// Upstream errors the ext_proc front rewrites (key `error_responses`).
  public let errorResponses: ErrorResponses
  /// The problem documents' `type` and `title` by status (key `problem_types`).
  public let problems: ProblemDocument

  /// Binds `decider` (made from `config`) to its series in `registry`. Series with the same
  /// labels as the previous configuration's are the same series, so counts carry on.
  public convenience init(config: AugmenterConfig, decider: Decider, registry: MetricsRegistry) {
    self.init(
      decider: decider,
      grpcMetrics: CheckMetrics(front: .grpc, sources: decider.outcomeSources, registry: registry),
      httpMetrics: CheckMetrics(front: .http, sources: decider.outcomeSources, registry: registry),
      extProcMetrics: CheckMetrics(front: .extProc, sources: decider.outcomeSources, registry: registry),
      errorResponses: config.errorResponses, problemTypes: config.problemTypes)
  }

  /// A configuration held for one service on its own (tests, the allocation budget): `metrics`
  /// (by default series of a registry of their own, for `front`) counts every front's checks.
  public static func standalone(
    decider: Decider, front: CheckFront, metrics: CheckMetrics? = nil, errorResponses: ErrorResponses = ErrorResponses(),
    problemTypes: [Int: ProblemType] = [:]
  ) -> Published<CheckConfiguration> {
    let metrics = metrics ?? CheckMetrics(front: front, sources: decider.outcomeSources, registry: MetricsRegistry())
    return Published(
      CheckConfiguration(
        decider: decider, grpcMetrics: metrics, httpMetrics: metrics, extProcMetrics: metrics,
        errorResponses: errorResponses, problemTypes: problemTypes))
  }

  /// Assembles a configuration from its parts (tests give one front's series for all;
  /// `extProcMetrics` defaults to `grpcMetrics`).
  public init(
    decider: Decider, grpcMetrics: CheckMetrics, httpMetrics: CheckMetrics, extProcMetrics: CheckMetrics? = nil,
    errorResponses: ErrorResponses = ErrorResponses(), problemTypes: [Int: ProblemType] = [:]
  ) {
    self.decider = decider
    self.grpcMetrics = grpcMetrics
    self.httpMetrics = httpMetrics
    self.extProcMetrics = extProcMetrics ?? grpcMetrics
    self.errorResponses = errorResponses
    self.problems = ProblemDocument(types: problemTypes)
  }
}
