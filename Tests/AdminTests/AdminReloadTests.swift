//===----------------------------------------------------------------------===//
// POST /reload and the reload section of /status.
//===----------------------------------------------------------------------===//

import AugmenterCore
import Foundation
import NIOHTTP1
import TestSupport
import Testing

@testable import Admin

@Suite struct AdminReloadTests {
  static let refused = ConfigReloadReport(
    time: Date(timeIntervalSince1970: 1_700_000_000), trigger: .admin, ok: false,
    problems: [
      ConfigProblem(keyPath: "providers[0].ttl", message: "expected a duration like 250ms, 30s or 6m"),
      ConfigProblem(keyPath: "on_unavailable", message: "expected allow or deny, got \"maybe\""),
    ])

  func state(answer: ConfigReloadReport, last: ConfigReloadReport?) throws -> AdminState {
    AdminState(
      registry: ProviderRegistry(config: try makeConfig()), clock: ManualClock(), isDraining: { false },
      reload: AdminReload(reload: { answer }, last: { last }))
  }

  @Test("POST /reload: 200 with the report when applied, 422 with every problem and its key path when refused")
  func postReload() async throws {
    let applied = ConfigReloadReport(
      time: Date(timeIntervalSince1970: 1_700_000_000), trigger: .admin, ok: true, restartRequired: ["listen"],
      providersKept: ["sidecar"])
    var (status, contentType, body) = try await state(answer: applied, last: nil).reloadResponse()
    #expect(status == .ok)
    #expect(contentType == "application/json")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    #expect(object["ok"] as? Bool == true)
    #expect(object["trigger"] as? String == "post_reload")
    #expect(object["restart_required"] as? [String] == ["listen"])
    #expect(object["providers_kept"] as? [String] == ["sidecar"])

    (status, _, body) = try await state(answer: Self.refused, last: nil).reloadResponse()
    #expect(status == .unprocessableEntity)
    let refused = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    let problems = try #require(refused["problems"] as? [[String: String]])
    #expect(problems.map { $0["key_path"] } == ["providers[0].ttl", "on_unavailable"])
  }

  @Test("/reload: only POST reloads (GET is 405, and is recognised as no reload); without reloading wired, 404")
  func methods() throws {
    let admin = try state(answer: Self.refused, last: nil)
    #expect(admin.isReload(method: .POST, uri: "/reload"))
    #expect(!admin.isReload(method: .GET, uri: "/reload"))
    #expect(admin.respond(method: .GET, uri: "/reload").0 == .methodNotAllowed)
    #expect(admin.respond(method: .POST, uri: "/status").0 == .methodNotAllowed)
    let plain = AdminState(registry: ProviderRegistry(config: try makeConfig()), clock: ManualClock(), isDraining: { false })
    #expect(!plain.isReload(method: .POST, uri: "/reload"))
    #expect(plain.respond(method: .POST, uri: "/reload").0 == .notFound)
  }

  @Test("/status shows the last reload: time, trigger, ok, problems with key paths")
  func statusShowsLastReload() throws {
    var (_, _, body) = try state(answer: Self.refused, last: nil).respond(method: .GET, uri: "/status")
    var object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    var config = try #require(object["config"] as? [String: Any])
    #expect(config["last_reload"] is NSNull, "null before the first reload")

    (_, _, body) = try state(answer: Self.refused, last: Self.refused).respond(method: .GET, uri: "/status")
    object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    config = try #require(object["config"] as? [String: Any])
    let last = try #require(config["last_reload"] as? [String: Any])
    #expect(last["ok"] as? Bool == false)
    #expect(last["time"] as? String == "2023-11-14T22:13:20Z")
    #expect((last["problems"] as? [[String: String]])?.first?["key_path"] == "providers[0].ttl")
  }
}
