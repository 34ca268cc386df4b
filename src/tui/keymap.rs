//! The one table of keys: the main loop maps keys to actions through it, and the help
//! overlay is generated from it.

use super::app::{Action, View};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One key (or a few equivalent keys) and what it does.
pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the help overlay writes the keys.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
}

const N: KeyModifiers = KeyModifiers::NONE;
const C: KeyModifiers = KeyModifiers::CONTROL;
const S: KeyModifiers = KeyModifiers::SHIFT;

const fn key(c: char) -> (KeyCode, KeyModifiers) {
    (KeyCode::Char(c), N)
}

pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: &[key('s')],
        label: "s",
        action: Action::Start,
        help: "start the swarm",
    },
    Binding {
        keys: &[key('x')],
        label: "x",
        action: Action::Stop,
        help: "stop the swarm",
    },
    Binding {
        keys: &[key('+'), key('=')],
        label: "+ / -",
        action: Action::Users(1),
        help: "users (or rate) ±1",
    },
    Binding {
        keys: &[key('-')],
        label: "",
        action: Action::Users(-1),
        help: "",
    },
    Binding {
        keys: &[(KeyCode::PageUp, N)],
        label: "PgUp / PgDn",
        action: Action::Users(10),
        help: "users (or rate) ±10",
    },
    Binding {
        keys: &[(KeyCode::PageDown, N)],
        label: "",
        action: Action::Users(-10),
        help: "",
    },
    Binding {
        keys: &[key(']')],
        label: "] / [",
        action: Action::SpawnFaster,
        help: "spawn rate up / down",
    },
    Binding {
        keys: &[key('[')],
        label: "",
        action: Action::SpawnSlower,
        help: "",
    },
    Binding {
        keys: &[key('u')],
        label: "u",
        action: Action::RampPrompt,
        help: "ramp users / set rate",
    },
    Binding {
        keys: &[key('p')],
        label: "p",
        action: Action::PausePlan,
        help: "pause / resume the plan",
    },
    Binding {
        keys: &[key('t')],
        label: "t",
        action: Action::RawToml,
        help: "edit the scenario as TOML",
    },
    Binding {
        keys: &[key('f')],
        label: "f",
        action: Action::FindCapacity,
        help: "find capacity (SLO search)",
    },
    Binding {
        keys: &[key('r')],
        label: "r",
        action: Action::ResetStats,
        help: "reset statistics",
    },
    Binding {
        keys: &[(KeyCode::Tab, N)],
        label: "Tab / S-Tab",
        action: Action::NextView,
        help: "view: next, previous, 1 … 6",
    },
    Binding {
        keys: &[(KeyCode::BackTab, S), (KeyCode::BackTab, N)],
        label: "",
        action: Action::PrevView,
        help: "",
    },
    Binding {
        keys: &[key('1')],
        label: "",
        action: Action::Show(View::Stats),
        help: "",
    },
    Binding {
        keys: &[key('2')],
        label: "",
        action: Action::Show(View::Charts),
        help: "",
    },
    Binding {
        keys: &[key('3')],
        label: "",
        action: Action::Show(View::Failures),
        help: "",
    },
    Binding {
        keys: &[key('4')],
        label: "",
        action: Action::Show(View::Endpoints),
        help: "",
    },
    Binding {
        keys: &[key('5')],
        label: "",
        action: Action::Show(View::Capacity),
        help: "",
    },
    Binding {
        keys: &[key('6')],
        label: "",
        action: Action::Show(View::Workers),
        help: "",
    },
    Binding {
        keys: &[(KeyCode::Up, N), key('k')],
        label: "↑ ↓ / k j",
        action: Action::Up,
        help: "select a row",
    },
    Binding {
        keys: &[(KeyCode::Down, N), key('j')],
        label: "",
        action: Action::Down,
        help: "",
    },
    Binding {
        keys: &[key('e'), (KeyCode::Enter, N)],
        label: "e / Enter",
        action: Action::Edit,
        help: "edit endpoint; failure details",
    },
    Binding {
        keys: &[key('a')],
        label: "a c d / Del",
        action: Action::Add,
        help: "add, copy, delete endpoint",
    },
    Binding {
        keys: &[key('c')],
        label: "",
        action: Action::Duplicate,
        help: "",
    },
    Binding {
        keys: &[key('d'), (KeyCode::Delete, N)],
        label: "",
        action: Action::Delete,
        help: "",
    },
    Binding {
        keys: &[key(' ')],
        label: "Space",
        action: Action::Toggle,
        help: "enable / disable endpoint",
    },
    Binding {
        keys: &[(KeyCode::Char('s'), C)],
        label: "Ctrl-S",
        action: Action::Save,
        help: "save scenario to its file",
    },
    Binding {
        keys: &[(KeyCode::Char('o'), C)],
        label: "Ctrl-O",
        action: Action::SaveAs,
        help: "save scenario as…",
    },
    Binding {
        keys: &[key('h')],
        label: "h",
        action: Action::HtmlReport,
        help: "write the HTML report",
    },
    Binding {
        keys: &[key('?'), (KeyCode::F(1), N)],
        label: "?",
        action: Action::Help,
        help: "this help",
    },
    Binding {
        keys: &[key('q')],
        label: "q",
        action: Action::Quit,
        help: "quit (asks first)",
    },
    Binding {
        keys: &[(KeyCode::Char('D'), S), key('D')],
        label: "D",
        action: Action::Detach,
        help: "detach (the run goes on)",
    },
    Binding {
        keys: &[(KeyCode::Char('c'), C)],
        label: "Ctrl-C",
        action: Action::ForceQuit,
        help: "stop and quit now",
    },
    Binding {
        keys: &[(KeyCode::Esc, N)],
        label: "Esc",
        action: Action::Close,
        help: "close a popup",
    },
];

/// Keys inside the endpoint form, for the help overlay.
pub(crate) const FORM_KEYS: &[(&str, &str)] = &[
    ("Tab S-Tab", "next / previous field"),
    ("← → Space", "method, body type"),
    ("Enter", "apply (newline in body)"),
    ("Ctrl-S", "apply and save file"),
    ("Esc", "cancel"),
];

/// The action for a key on the main screen.
pub(crate) fn action_for(key: KeyEvent) -> Option<Action> {
    // Shifted characters arrive with SHIFT set on some terminals and not on others.
    let mods = if matches!(key.code, KeyCode::Char(_)) {
        key.modifiers - KeyModifiers::SHIFT
    } else {
        key.modifiers
    };
    KEYMAP
        .iter()
        .find(|b| {
            b.keys
                .iter()
                .any(|&(code, m)| code == key.code && m == mods)
        })
        .map(|b| b.action)
}

/// (keys, description) rows for the help overlay: bindings that share a line are joined.
pub fn help_rows() -> Vec<(&'static str, &'static str)> {
    KEYMAP
        .iter()
        .filter(|b| !b.label.is_empty())
        .map(|b| (b.label, b.help))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        let k = |c, m| KeyEvent::new(c, m);
        assert_eq!(action_for(k(KeyCode::Char('s'), N)), Some(Action::Start));
        assert_eq!(action_for(k(KeyCode::Char('s'), C)), Some(Action::Save));
        assert_eq!(action_for(k(KeyCode::Char('+'), S)), Some(Action::Users(1)));
        assert_eq!(
            action_for(k(KeyCode::PageDown, N)),
            Some(Action::Users(-10))
        );
        assert_eq!(action_for(k(KeyCode::Char('Z'), S)), None);
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = std::collections::HashSet::new();
        for b in KEYMAP {
            for k in b.keys {
                assert!(seen.insert(*k), "{k:?} bound twice");
            }
        }
    }
}
