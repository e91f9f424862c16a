//! `logs` bounds as seqs, for every backend. Along seq, the order (timestamp, seq)
//! is seq order, so a time `t` with a message refines to that message's seq within
//! the messages of that very millisecond.

/// The exclusive seq a bound stands for. `named` is the seq of the message the bound
/// names (if it is one of the conversation's); `millisecond` the seqs `[at, after)`
/// of the messages of the bound's time, when it has one. An inclusive bound takes in
/// the message it names, or with a time alone that whole millisecond.
pub fn bound_seq(
    named: Option<i64>,
    millisecond: Option<(i64, i64)>,
    upper: bool,
    inclusive: bool,
) -> Option<i64> {
    let step = match (upper, inclusive) {
        (_, false) => 0,
        (true, true) => 1,
        (false, true) => -1,
    };
    let mid = named.map(|seq| seq + step);
    let Some((at, after)) = millisecond else {
        return mid;
    };
    Some(match (mid, upper) {
        (Some(seq), true) => seq.clamp(at, after),
        (Some(seq), false) => seq.clamp(at - 1, after - 1),
        // A time alone excludes (or takes in) that whole millisecond.
        (None, true) if inclusive => after,
        (None, true) => at,
        (None, false) if inclusive => at - 1,
        (None, false) => after - 1,
    })
}
