// "did you mean ttl?" for unknown keys.

/// Finds the known key an unknown one was probably meant to be.
enum KeySuggestion {
  /// The closest of `known` to `key`, when close enough to be a typo: same letters in another
  /// case or spelling (`maxStale`, `MAX-STALE` for `max_stale`), one or two edits away, or the
  /// same first half.
  static func nearest(to key: String, among known: [String]) -> String? {
    let normalizedKey = normalize(key)
    if let exact = known.first(where: { normalize($0) == normalizedKey }) { return exact }
    // Short keys tolerate one edit only: two edits turn `url` into `ttl`.
    let allowed = key.count <= 4 ? 1 : 2
    var best: (key: String, distance: Int)?
    for candidate in known {
      let distance = editDistance(Array(key.lowercased().utf8), Array(candidate.utf8))
      if distance <= allowed, distance < (best?.distance ?? .max) {
        best = (candidate, distance)
      }
    }
    if let best { return best.key }
    // A long shared beginning (`max_message_size` for `max_message_bytes`): the user had the
    // right setting and misremembered its unit or suffix.
    let lowered = Array(key.lowercased().utf8)
    var bestPrefix: (key: String, length: Int)?
    for candidate in known {
      let length = zip(lowered, candidate.utf8).prefix { $0 == $1 }.count
      if length >= 5, length * 2 >= lowered.count, length > (bestPrefix?.length ?? 0) {
        bestPrefix = (candidate, length)
      }
    }
    return bestPrefix?.key
  }

  /// Lower-case, without `_` and `-`.
  private static func normalize(_ key: String) -> String {
    String(key.lowercased().filter { $0 != "_" && $0 != "-" })
  }

  /// Damerau-Levenshtein distance (optimal string alignment): a swap of two neighbours counts as
  /// one edit, which is the commonest typo (`tlt`).
  static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous2 = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          current[j] = min(current[j], previous2[j - 2] + 1)
        }
      }
      (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
  }

  /// The message for an unknown key, with a suggestion when there is one.
  static func unknownKeyMessage(_ key: String, known: [String]) -> String {
    if let suggestion = nearest(to: key, among: known) {
      return "unknown key \"\(key)\"; did you mean \(suggestion)?"
    }
    return "unknown key \"\(key)\"; known keys: \(known.joined(separator: ", "))"
  }
}
