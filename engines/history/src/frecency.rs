//! Frecency: one number for "how often and how recently", after Firefox's
//! classic Places algorithm.
//!
//! The ten most recent visits are sampled. Each earns points: a recency
//! weight for its age bucket, times a bonus for how the visit happened,
//! divided by 100. The page's frecency is its total visit count times the
//! average points of the sample, rounded up:
//!
//! | age of the visit | weight |   | transition | bonus |
//! |---|---|---|---|---|
//! | ≤ 4 days | 100 |   | typed | 2000 |
//! | ≤ 14 days | 70 |   | link | 100 |
//! | ≤ 31 days | 50 |   | bookmark | 75 |
//! | ≤ 90 days | 30 |   | embed, framed link, redirects, download, reload | 0 |
//! | older | 10 |   | | |
//!
//! A page with no visits (or only zero-bonus ones) scores 0. Scores change
//! as time passes, so they are recomputed whenever a page's visits change
//! and for pages whose score is older than a day
//! ([`HistoryStore::recompute_stale_frecencies`](crate::HistoryStore::recompute_stale_frecencies)).
//! The score is the `sortindex` of the page's record, so other devices
//! download the most relevant history first.

use crate::types::VisitTransition;

/// Visits sampled per page.
pub const SAMPLED_VISITS: usize = 10;
const DAY_US: i64 = 24 * 3600 * 1_000_000;

fn recency_weight(age_us: i64) -> i64 {
    match age_us / DAY_US {
        d if d <= 4 => 100,
        d if d <= 14 => 70,
        d if d <= 31 => 50,
        d if d <= 90 => 30,
        _ => 10,
    }
}

fn transition_bonus(transition: VisitTransition) -> i64 {
    match transition {
        VisitTransition::Typed => 2000,
        VisitTransition::Link => 100,
        VisitTransition::Bookmark => 75,
        _ => 0,
    }
}

/// The frecency of a page with `visit_count` visits, the most recent of
/// which are `recent` (newest first, at least [`SAMPLED_VISITS`] if there
/// are that many), as of `now_us`.
pub fn frecency(visit_count: i64, recent: &[(i64, VisitTransition)], now_us: i64) -> i64 {
    let sample = &recent[..recent.len().min(SAMPLED_VISITS)];
    if sample.is_empty() || visit_count <= 0 {
        return 0;
    }
    let points: i64 = sample
        .iter()
        .map(|&(date, transition)| {
            recency_weight((now_us - date).max(0)) * transition_bonus(transition) / 100
        })
        .sum();
    // ceil(visit_count * points / sampled), in integers.
    let numerator = visit_count * points;
    let sampled = sample.len() as i64;
    (numerator + sampled - 1) / sampled
}

#[cfg(test)]
mod tests {
    use super::*;
    use VisitTransition::*;

    const NOW: i64 = 1_700_000_000_000_000;

    fn days_ago(d: i64) -> i64 {
        NOW - d * DAY_US
    }

    #[test]
    fn known_values() {
        // One typed visit today: 100 * 2000 / 100 = 2000.
        assert_eq!(frecency(1, &[(NOW, Typed)], NOW), 2000);
        // One link visit 10 days ago: 70 * 100 / 100 = 70.
        assert_eq!(frecency(1, &[(days_ago(10), Link)], NOW), 70);
        // Two visits: typed today (2000) + link 100 days ago (10): 2 * 2010 / 2.
        assert_eq!(frecency(2, &[(NOW, Typed), (days_ago(100), Link)], NOW), 2010);
        // 30 visits, three sampled: 30 * (100 + 100 + 0) / 3 = 2000.
        assert_eq!(frecency(30, &[(NOW, Link), (NOW, Link), (NOW, Embed)], NOW), 2000);
        // Rounded up: 1 * (70 + 50 + 0) / 3 = 40; 1 * (70 + 0) / 3 = 23.33 → 24.
        assert_eq!(
            frecency(
                1,
                &[(days_ago(5), Link), (days_ago(20), Link), (NOW, Reload)],
                NOW
            ),
            40
        );
        assert_eq!(
            frecency(1, &[(days_ago(5), Link), (NOW, Reload), (NOW, Embed)], NOW),
            24
        );
    }

    #[test]
    fn orderings_that_matter() {
        let typed = frecency(1, &[(NOW, Typed)], NOW);
        let link = frecency(1, &[(NOW, Link)], NOW);
        let old_link = frecency(1, &[(days_ago(200), Link)], NOW);
        assert!(typed > link && link > old_link && old_link > 0);
        assert!(
            frecency(5, &[(NOW, Link)], NOW) > link,
            "more visits, more frecency"
        );
        assert_eq!(frecency(3, &[(NOW, Embed), (NOW, RedirectTemporary)], NOW), 0);
        assert_eq!(frecency(0, &[], NOW), 0);
        // Visits in the future count as now.
        assert_eq!(frecency(1, &[(NOW + DAY_US, Link)], NOW), link);
    }
}
