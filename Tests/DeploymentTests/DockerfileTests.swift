//===----------------------------------------------------------------------===//
// Deployment tests: Dockerfile.
//===----------------------------------------------------------------------===//

import Foundation
import TestSupport
import Testing

/// Issue 3, item 6: Docker cannot run here, so the Dockerfile's invariants are checked by parsing
/// it: the two stages, the builder running scripts/package, a runtime with only the packages the
/// binary needs, a numeric non-root user, and agreement with the Kubernetes manifests.
@Suite("Dockerfile")
struct DockerfileTests {
  struct Instruction: Sendable {
    var keyword: String
    var arguments: String
  }

  struct Stage: Sendable {
    var image: String
    var name: String?
    var instructions: [Instruction]

    func all(_ keyword: String) -> [Instruction] { instructions.filter { $0.keyword == keyword } }
  }

  /// The Dockerfile's stages: continuation lines joined, comments and parser directives dropped.
  static func stages() throws -> [Stage] {
    var logical: [String] = []
    var pending = ""
    for rawLine in try Repository.text("Dockerfile").split(separator: "\n", omittingEmptySubsequences: false) {
      let line = rawLine.trimmingCharacters(in: .whitespaces)
      if line.hasPrefix("#") { continue }
      if line.hasSuffix("\\") {
        pending += line.dropLast() + " "
        continue
      }
      let complete = pending + line
      pending = ""
      if !complete.trimmingCharacters(in: .whitespaces).isEmpty { logical.append(complete) }
    }

    var stages: [Stage] = []
    for line in logical {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      let instruction = Instruction(
        keyword: parts[0].uppercased(), arguments: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
      if instruction.keyword == "FROM" {
        let words = instruction.arguments.split(separator: " ").map(String.init).filter { !$0.hasPrefix("--") }
        let name = words.count == 3 && words[1].uppercased() == "AS" ? words[2] : nil
        stages.append(Stage(image: words.first ?? "", name: name, instructions: []))
      } else {
        guard !stages.isEmpty else { throw TestFailure("Dockerfile: \(instruction.keyword) before the first FROM") }
        stages[stages.count - 1].instructions.append(instruction)
      }
    }
    return stages
  }

  /// The packages every `apt-get install` of `stage` names (flags skipped).
  static func aptPackages(_ stage: Stage) -> Set<String> {
    var packages: Set<String> = []
    for run in stage.all("RUN") {
      let words = run.arguments.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      var index = 0
      while index < words.count {
        if words[index] == "apt-get", index + 1 < words.count, words[index + 1] == "install" {
          index += 2
          while index < words.count, !["&&", ";", "||", "|"].contains(words[index]) {
            if !words[index].hasPrefix("-") { packages.insert(words[index]) }
            index += 1
          }
        }
        index += 1
      }
    }
    return packages
  }

  /// The runtime stage's packages: what `dist/augmenter`'s shared libraries must come from, with
  /// the packages debian:bookworm-slim already has (apt and dpkg depend on them).
  static func runtimeLibraryPackages() throws -> Set<String> {
    let stages = try stages()
    guard let runtime = stages.last else { throw TestFailure("Dockerfile has no stage") }
    return aptPackages(runtime).union(["libc6", "libgcc-s1", "libstdc++6", "zlib1g"])
  }

  /// An exec-form (JSON array) instruction's words.
  static func execForm(_ instruction: Instruction?) -> [String]? {
    guard let instruction, let json = try? JSON.parse(instruction.arguments) else { return nil }
    return json.strings
  }

  @Test("two stages: a swift:6.3-bookworm builder that runs scripts/package, a debian:bookworm-slim runtime")
  func twoStages() throws {
    let stages = try Self.stages()
    try #require(stages.count == 2, "expected two stages, got \(stages.map(\.image))")
    let (builder, runtime) = (stages[0], stages[1])
    #expect(builder.image == "swift:6.3-bookworm")
    #expect(builder.name == "builder")
    #expect(runtime.image == "debian:bookworm-slim")
    #expect(Self.aptPackages(builder).isSuperset(of: ["libnghttp2-dev", "libssl-dev"]), "\(Self.aptPackages(builder))")
    #expect(builder.all("RUN").contains { $0.arguments.contains("scripts/package") }, "the builder runs scripts/package")
    #expect(
      builder.all("COPY").contains { $0.arguments.hasPrefix(". ") || $0.arguments.contains("scripts") },
      "the builder copies the sources and scripts/package")
  }

  @Test("runtime: only libnghttp2-14, libssl3, ca-certificates; user 65532; the binary, entrypoint, command and ports")
  func runtimeStage() throws {
    let runtime = try #require(try Self.stages().last)
    #expect(Self.aptPackages(runtime) == ["libnghttp2-14", "libssl3", "ca-certificates"])
    for run in runtime.all("RUN") where run.arguments.contains("apt-get install") {
      #expect(run.arguments.contains("--no-install-recommends"))
      #expect(run.arguments.contains("rm -rf /var/lib/apt/lists"), "apt lists are removed in the same layer")
    }

    let user = try #require(runtime.all("USER").last, "the runtime stage sets USER")
    let uid = String(user.arguments.split(separator: ":")[0])
    #expect(uid == "65532", "USER \(user.arguments): numeric, so Kubernetes runAsNonRoot can verify it")

    #expect(
      runtime.all("COPY").contains {
        $0.arguments.hasPrefix("--from=builder") && $0.arguments.contains("dist/augmenter")
          && $0.arguments.hasSuffix("/usr/local/bin/augmenter")
      },
      "COPY --from=builder …/dist/augmenter /usr/local/bin/augmenter")
    #expect(Self.execForm(runtime.all("ENTRYPOINT").last) == ["/usr/local/bin/augmenter"])
    #expect(Self.execForm(runtime.all("CMD").last) == ["serve", "--config", "/etc/augmenter/config.yaml"])
    let exposed = Set(runtime.all("EXPOSE").flatMap { $0.arguments.split(separator: " ").map(String.init) })
    #expect(exposed == ["9191", "9901"])
  }

  @Test("the image agrees with k8s/base: user, command and ports")
  func agreesWithKubernetes() async throws {
    let runtime = try #require(try Self.stages().last)
    let rendering = try await Kustomize.shared.render("k8s/base")
    let (_, pod, container) = try rendering.augmenterPod()
    let uid = runtime.all("USER").last.map { String($0.arguments.split(separator: ":")[0]) }
    #expect(pod[path: "securityContext.runAsUser"]?.int.map(String.init) == uid)
    #expect(container["args"]?.strings == Self.execForm(runtime.all("CMD").last))
    let containerPorts = Set((container["ports"]?.array ?? []).compactMap { $0["containerPort"]?.int }.map(String.init))
    let exposed = Set(runtime.all("EXPOSE").flatMap { $0.arguments.split(separator: " ").map(String.init) })
    #expect(containerPorts == exposed)
  }

  @Test(".dockerignore keeps build folders, the venv, dist/ and .git out of the build context")
  func dockerIgnore() throws {
    let entries = Set(
      try Repository.text(".dockerignore").split(separator: "\n")
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty && !$0.hasPrefix("#") })
    for entry in [".build", ".venv", "dist", ".git"] {
      #expect(entries.contains(entry) || entries.contains(entry + "/"), ".dockerignore lacks \(entry)")
    }
  }
}
