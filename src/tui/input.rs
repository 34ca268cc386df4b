//! A small text editor for form fields and prompts: one line, or several for bodies.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    pub text: String,
    /// Cursor position in characters.
    pub cursor: usize,
    pub multiline: bool,
    /// The text is a proposal shown selected: typing replaces it, a cursor key keeps it
    /// for editing (with 7 users, typing "12" at the `u` prompt means 12, not 712).
    pub selected: bool,
}

impl TextInput {
    pub fn new(text: &str, multiline: bool) -> Self {
        TextInput {
            text: text.to_string(),
            cursor: text.chars().count(),
            multiline,
            selected: false,
        }
    }

    /// A one-line field that proposes `text`, selected (see `selected`).
    pub(crate) fn proposing(text: &str) -> Self {
        TextInput {
            selected: !text.is_empty(),
            ..TextInput::new(text, false)
        }
    }

    /// Applies an editing key; returns false when the key is not an editing key.
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if std::mem::take(&mut self.selected) {
            match key.code {
                // Typing or deleting replaces the proposal.
                KeyCode::Char(_) if !ctrl => self.clear(),
                KeyCode::Backspace | KeyCode::Delete => {
                    self.clear();
                    return true;
                }
                // A cursor key keeps it, to edit.
                KeyCode::Left | KeyCode::Right | KeyCode::Home | KeyCode::End => {}
                _ => self.selected = true,
            }
        }
        match key.code {
            KeyCode::Char('u') if ctrl => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Char(c) if !ctrl => self.insert(c),
            KeyCode::Enter if self.multiline => self.insert('\n'),
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.remove_at(self.cursor);
            }
            KeyCode::Backspace => {}
            KeyCode::Delete => self.remove_at(self.cursor),
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.len()),
            KeyCode::Up if self.multiline => self.vertical(-1),
            KeyCode::Down if self.multiline => self.vertical(1),
            KeyCode::PageUp if self.multiline => (0..10).for_each(|_| self.vertical(-1)),
            KeyCode::PageDown if self.multiline => (0..10).for_each(|_| self.vertical(1)),
            KeyCode::Home => self.cursor = self.line_start(),
            KeyCode::End => self.cursor = self.line_end(),
            _ => return false,
        }
        true
    }

    fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    fn remove_at(&mut self, char_index: usize) {
        if char_index < self.len() {
            let at = self.byte_at(char_index);
            self.text.remove(at);
        }
    }

    fn line_start(&self) -> usize {
        let before: Vec<char> = self.text.chars().take(self.cursor).collect();
        before.iter().rposition(|&c| c == '\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self) -> usize {
        self.text
            .chars()
            .enumerate()
            .skip(self.cursor)
            .find(|&(_, c)| c == '\n')
            .map_or(self.len(), |(i, _)| i)
    }

    /// Moves the cursor one line up (-1) or down (1), keeping its column where it can.
    fn vertical(&mut self, by: i32) {
        let (line, col) = self.cursor_line_col();
        let lines: Vec<&str> = self.text.split('\n').collect();
        let target = line as i64 + i64::from(by);
        if target < 0 || target as usize >= lines.len() {
            return;
        }
        let target = target as usize;
        let start: usize = lines[..target].iter().map(|l| l.chars().count() + 1).sum();
        self.cursor = start + col.min(lines[target].chars().count());
    }

    /// (line, column) of the cursor, both from 0.
    pub(crate) fn cursor_line_col(&self) -> (usize, usize) {
        let before: String = self.text.chars().take(self.cursor).collect();
        let line = before.matches('\n').count();
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits_at_the_cursor() {
        let mut t = TextInput::new("héllo", false);
        t.handle(key(KeyCode::Left));
        t.handle(key(KeyCode::Backspace));
        t.handle(key(KeyCode::Char('L')));
        assert_eq!(t.text, "hélLo");
        t.handle(key(KeyCode::Home));
        t.handle(key(KeyCode::Delete));
        assert_eq!(t.text, "élLo");
        assert!(!t.handle(key(KeyCode::Enter)));
    }

    #[test]
    fn multiline_enter_and_position() {
        let mut t = TextInput::new("a", true);
        t.handle(key(KeyCode::Enter));
        t.handle(key(KeyCode::Char('b')));
        assert_eq!(t.text, "a\nb");
        assert_eq!(t.cursor_line_col(), (1, 1));
        t.handle(key(KeyCode::Home));
        assert_eq!(t.cursor_line_col(), (1, 0));
    }
}
