//! Lesson actions: the list overlay, stepping, running `run` and `experiment` steps on the
//! live engine, answering quizzes, and checking `task` conditions after every change.
//! Progress is saved whenever the step changes.

use super::super::keymap::Action;
use super::super::lesson::{ActiveLesson, ExperimentCell, LessonSetup, StepState};
use super::super::state::{App, Pane, ReplyStatus};
use crate::engine::api::{EngineCommand, EngineEvent, GenerateRequest};
use crate::lessons::model::experiment_grid;
use crate::lessons::{Lang, LessonEntry, ObservePane, StepKind};
use crate::transcript::{ChatMessage, Role};

impl App {
    /// Give the app its lessons, language and progress file; reopens the lesson that was
    /// open when the app last quit, at the same step.
    pub fn setup_lessons(&mut self, setup: LessonSetup) {
        self.lessons.library = setup.library;
        self.lessons.lang = setup.lang;
        self.lessons.store = setup.store;
        if let Some(store) = &self.lessons.store {
            let (progress, problem) = store.load();
            self.lessons.progress = progress;
            if let Some(p) = problem {
                self.error(p);
            }
        }
        if let Some(l) = self.lessons.progress.lang.filter(|_| !setup.lang_explicit) {
            self.lessons.lang = l;
        }
        let current = self.lessons.progress.current.clone();
        let index = current.as_deref().and_then(|id| self.entry_index(id));
        if let Some(i) = index {
            self.lessons.list_selected = i;
            self.open_lesson(i);
        }
        if setup.open_list {
            self.lessons.list_open = true;
        }
        self.dirty = true;
    }

    pub fn lang(&self) -> Lang {
        self.lessons.lang
    }

    fn entry_index(&self, id: &str) -> Option<usize> {
        self.lessons
            .library
            .entries
            .iter()
            .position(|e| e.lesson().is_some_and(|l| l.id == id))
    }

    /// Lesson keys, and every key while the list is open. `None`: not a lesson matter.
    pub(super) fn lesson_action(&mut self, action: Action) -> Option<Vec<EngineCommand>> {
        if self.lessons.list_open && !self.help_open {
            return Some(self.list_action(action));
        }
        match action {
            Action::ToggleLessons => self.lessons.list_open = true,
            Action::SwitchLang => self.switch_lang(),
            Action::LessonNext => return Some(self.lesson_next()),
            Action::LessonBack => self.lesson_back(),
            Action::LessonScrollUp | Action::LessonScrollDown => {
                if let Some(a) = self.lessons.active.as_mut() {
                    a.scroll = if action == Action::LessonScrollUp {
                        a.scroll.saturating_sub(3)
                    } else {
                        a.scroll.saturating_add(3).min(500)
                    };
                }
            }
            Action::Answer(n) => self.answer(n as usize),
            Action::Stop if self.experiment_running() && !self.help_open => {
                return Some(self.stop_experiment())
            }
            _ => return None,
        }
        if !matches!(action, Action::ToggleLessons | Action::SwitchLang) && !self.lesson_open() {
            self.info("no lesson is open: Ctrl+L lists the lessons");
        }
        Some(Vec::new())
    }

    fn list_action(&mut self, action: Action) -> Vec<EngineCommand> {
        let n = self.lessons.library.entries.len();
        match action {
            Action::ToggleLessons | Action::Stop => self.lessons.list_open = false,
            Action::CursorUp | Action::ScrollUp => {
                self.lessons.list_selected = self.lessons.list_selected.saturating_sub(1)
            }
            Action::CursorDown | Action::ScrollDown => {
                self.lessons.list_selected =
                    (self.lessons.list_selected + 1).min(n.saturating_sub(1))
            }
            Action::Send => {
                let i = self.lessons.list_selected;
                match self.lessons.library.entries.get(i) {
                    Some(LessonEntry::Ok(_)) => {
                        self.lessons.list_open = false;
                        self.open_lesson(i);
                    }
                    Some(LessonEntry::Broken { errors, .. }) => {
                        let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
                        self.error(format!("this lesson file has problems: {first}"));
                    }
                    None => {}
                }
            }
            Action::Delete => {
                self.close_lesson();
                self.lessons.list_open = false;
            }
            Action::SwitchLang => self.switch_lang(),
            Action::Quit | Action::Interrupt => return self.update_quit(action),
            _ => {}
        }
        Vec::new()
    }

    fn update_quit(&mut self, action: Action) -> Vec<EngineCommand> {
        self.lessons.list_open = false;
        self.quit_or_interrupt(action)
    }

    /// Open the lesson of `entries[index]` at its saved step.
    pub(crate) fn open_lesson(&mut self, index: usize) {
        let Some(lesson) = self
            .lessons
            .library
            .entries
            .get(index)
            .and_then(|e| e.lesson())
        else {
            return;
        };
        let saved = self.lessons.progress.lessons.get(&lesson.id);
        let step = match saved {
            Some(p) if !p.completed => p.step.min(lesson.steps.len().saturating_sub(1)),
            _ => 0,
        };
        self.lessons.active = Some(ActiveLesson {
            lesson: Box::new(lesson.clone()),
            step,
            state: StepState::default(),
            scroll: 0,
            rendered: Vec::new(),
        });
        self.enter_step(step);
    }

    fn close_lesson(&mut self) {
        self.lessons.active = None;
        self.lessons.progress.current = None;
        self.save_progress();
    }

    fn enter_step(&mut self, step: usize) {
        let Some(a) = self.lessons.active.as_mut() else {
            return;
        };
        a.step = step.min(a.lesson.steps.len().saturating_sub(1));
        a.state = StepState::default();
        a.scroll = 0;
        let id = a.lesson.id.clone();
        let step = a.step;
        let observe = match a.current().map(|s| &s.kind) {
            Some(StepKind::Observe { pane, layer, token }) => Some((*pane, *layer, *token)),
            _ => None,
        };
        let p = self.lessons.progress.lessons.entry(id.clone()).or_default();
        p.step = step;
        p.reached = p.reached.max(step);
        self.lessons.progress.current = Some(id);
        self.save_progress();
        self.render_step();
        if let Some((pane, layer, token)) = observe {
            self.observe(pane, layer, token);
        }
    }

    /// Bring what an observe step points at into view.
    fn observe(&mut self, pane: ObservePane, layer: Option<u32>, token: Option<u32>) {
        self.help_open = false;
        self.pane = match pane {
            ObservePane::Routing => Pane::Routing,
            ObservePane::Sampling => Pane::Sampling,
            _ => Pane::Chat,
        };
        if let Some(l) = layer {
            let lead = self.model.as_ref().map_or(0, |m| m.n_dense_lead);
            self.layer = l.saturating_sub(lead) as usize;
        }
        if let Some(t) = token {
            let reply = self
                .messages
                .iter()
                .rposition(|m| m.role == Role::Assistant && !m.tokens.is_empty());
            if let Some(message) = reply {
                let n = self.messages[message].tokens.len();
                let r = super::super::state::TokenRef {
                    message,
                    token: (t as usize).min(n - 1),
                };
                self.follow = self.newest_token() == Some(r);
                self.selection = (!self.follow).then_some(r);
            }
        }
    }

    /// Render the current step's text in the current language.
    pub(crate) fn render_step(&mut self) {
        let lang = self.lessons.lang;
        let Some(a) = self.lessons.active.as_mut() else {
            return;
        };
        let Some(step) = a.lesson.steps.get(a.step) else {
            return;
        };
        let mut src = step.text.get(lang).to_string();
        match &step.kind {
            StepKind::Code { language, code } => {
                src = format!(
                    "```{language}\n{}\n```\n\n{src}",
                    code.trim_end_matches('\n')
                );
            }
            StepKind::Quiz { question, .. } => {
                src = format!("{src}\n\n**{}**", question.get(lang).trim());
            }
            _ => {}
        }
        a.rendered = self.markdown.render(&src);
    }

    /// F10: the other language, remembered for the next start.
    fn switch_lang(&mut self) {
        self.lessons.lang = self.lessons.lang.other();
        self.lessons.progress.lang = Some(self.lessons.lang);
        self.save_progress();
        self.render_step();
    }

    pub(crate) fn save_progress(&mut self) {
        let Some(store) = &self.lessons.store else {
            return;
        };
        if let Err(e) = store.save(&self.lessons.progress) {
            self.error(e);
        }
    }

    fn current_kind(&self) -> Option<(&StepKind, &StepState)> {
        let a = self.lessons.active.as_ref()?;
        Some((&a.current()?.kind, &a.state))
    }

    fn lesson_next(&mut self) -> Vec<EngineCommand> {
        let lang = self.lessons.lang;
        let Some((kind, state)) = self.current_kind() else {
            self.info("no lesson is open: Ctrl+L lists the lessons");
            return Vec::new();
        };
        let (kind, state) = (kind.clone(), state.clone());
        match kind {
            StepKind::Run { .. } if state.run_generation.is_none() => return self.run_step(),
            StepKind::Run { .. } if !state.done => {
                self.info("the reply is still coming (Esc stops it)");
                return Vec::new();
            }
            StepKind::Experiment { .. } if state.cells.is_empty() => return self.run_experiment(),
            StepKind::Experiment { .. } if !state.done => {
                self.info("the experiment is still running (Esc stops it)");
                return Vec::new();
            }
            StepKind::Task { condition, hint } if !state.done && !state.skip_armed => {
                let why = match hint {
                    Some(h) => h.get(lang).to_string(),
                    None => condition.to_string(),
                };
                self.info(format!("not yet: {why} (Ctrl+N again skips this task)"));
                if let Some(a) = self.lessons.active.as_mut() {
                    a.state.skip_armed = true;
                }
                return Vec::new();
            }
            StepKind::Quiz { choices, .. } if !state.done => {
                self.info(format!("pick an answer: Alt+1 .. Alt+{}", choices.len()));
                return Vec::new();
            }
            _ => {}
        }
        self.advance();
        Vec::new()
    }

    fn advance(&mut self) {
        let Some(a) = self.lessons.active.as_ref() else {
            return;
        };
        if a.step + 1 < a.lesson.steps.len() {
            let next = a.step + 1;
            self.enter_step(next);
            return;
        }
        let id = a.lesson.id.clone();
        let title = a.lesson.title.get(self.lessons.lang).to_string();
        let p = self.lessons.progress.lessons.entry(id).or_default();
        p.completed = true;
        p.step = 0;
        self.lessons.active = None;
        self.lessons.progress.current = None;
        self.save_progress();
        self.lessons.list_open = true;
        self.info(format!("lesson complete: {title}"));
    }

    fn lesson_back(&mut self) {
        if let Some(step) = self.lessons.active.as_ref().map(|a| a.step) {
            if step == 0 {
                self.info("this is the first step");
            } else {
                self.enter_step(step - 1);
            }
        }
    }

    fn answer(&mut self, n: usize) {
        let Some(a) = self.lessons.active.as_mut() else {
            return;
        };
        let Some(StepKind::Quiz { choices, .. }) = a.lesson.steps.get(a.step).map(|s| &s.kind)
        else {
            self.info("Alt+1..4 answer a quiz; this step is not one");
            return;
        };
        let Some(choice) = n.checked_sub(1).and_then(|i| choices.get(i)) else {
            return;
        };
        a.state.answer = Some(n - 1);
        if choice.correct {
            a.state.done = true;
        }
    }

    /// Send a run step's prompt as a chat message with the step's settings.
    fn run_step(&mut self) -> Vec<EngineCommand> {
        let lang = self.lessons.lang;
        let Some((
            StepKind::Run {
                prompt,
                params,
                max_tokens,
            },
            _,
        )) = self.current_kind()
        else {
            return Vec::new();
        };
        let (prompt, params, max_tokens) = (prompt.get(lang).to_string(), *params, *max_tokens);
        if let Some(why) = self.cannot_start().or_else(|| {
            self.experiment_running()
                .then_some("the experiment is still running (Esc stops it)")
        }) {
            self.info(why);
            return Vec::new();
        }
        let mut cmds = self.set_params(params);
        let typed = self.input.take();
        self.input.set(prompt);
        let sent = self.send();
        if !typed.is_empty() {
            self.input.set(typed);
        }
        let mut generation = None;
        for c in sent {
            let mut c = c;
            if let EngineCommand::Generate {
                request,
                generation: g,
            } = &mut c
            {
                request.max_tokens = max_tokens;
                generation = Some(*g);
            }
            cmds.push(c);
        }
        if let Some(a) = self.lessons.active.as_mut() {
            a.state.run_generation = generation;
        }
        cmds
    }

    fn run_experiment(&mut self) -> Vec<EngineCommand> {
        let lang = self.lessons.lang;
        let Some((
            StepKind::Experiment {
                prompt,
                temperatures,
                top_ps,
                seeds,
                max_tokens,
            },
            _,
        )) = self.current_kind()
        else {
            return Vec::new();
        };
        let grid = experiment_grid(temperatures, top_ps, seeds);
        let (prompt, max_tokens) = (prompt.get(lang).to_string(), *max_tokens);
        if self.model.is_none() || self.is_generating() {
            self.info(self.cannot_start().unwrap_or("the model is busy"));
            return Vec::new();
        }
        let mut cmds = Vec::new();
        let mut cells = Vec::new();
        for params in grid {
            self.generation += 1;
            cells.push(ExperimentCell {
                params,
                generation: self.generation,
                text: String::new(),
                end: None,
            });
            cmds.push(EngineCommand::Generate {
                generation: self.generation,
                request: GenerateRequest {
                    messages: vec![ChatMessage {
                        role: Role::User,
                        content: prompt.clone(),
                    }],
                    raw: false,
                    max_tokens,
                    params,
                },
            });
        }
        if let Some(a) = self.lessons.active.as_mut() {
            a.state.cells = cells;
        }
        cmds
    }

    fn experiment_cells(&self) -> &[ExperimentCell] {
        self.lessons
            .active
            .as_ref()
            .map_or(&[], |a| a.state.cells.as_slice())
    }

    pub fn experiment_running(&self) -> bool {
        self.experiment_cells().iter().any(|c| c.end.is_none())
    }

    fn stop_experiment(&mut self) -> Vec<EngineCommand> {
        let last = self.experiment_cells().iter().map(|c| c.generation).max();
        if let Some(a) = self.lessons.active.as_mut() {
            for c in a.state.cells.iter_mut().filter(|c| c.end.is_none()) {
                c.end = Some(Err("stopped".into()));
            }
            a.state.done = true;
        }
        last.map(|generation| vec![EngineCommand::Cancel { generation }])
            .unwrap_or_default()
    }

    /// Engine events of experiment runs fill the table and go no further. Returns whether
    /// the event was one of them.
    pub(super) fn lesson_engine_event(&mut self, ev: &EngineEvent) -> bool {
        let g = match ev {
            EngineEvent::Prompt { generation, .. }
            | EngineEvent::PrefillProgress { generation, .. }
            | EngineEvent::Token { generation, .. }
            | EngineEvent::Tail { generation, .. }
            | EngineEvent::Done { generation, .. }
            | EngineEvent::Error { generation, .. } => *generation,
            EngineEvent::Loaded(_) | EngineEvent::LoadFailed(_) | EngineEvent::Crashed { .. } => {
                return false
            }
        };
        let Some(a) = self.lessons.active.as_mut() else {
            return false;
        };
        let Some(cell) = a.state.cells.iter_mut().find(|c| c.generation == g) else {
            return false;
        };
        match ev {
            EngineEvent::Token { token, .. } if cell.end.is_none() => {
                cell.text.push_str(&token.text)
            }
            EngineEvent::Tail { text, .. } if cell.end.is_none() => cell.text.push_str(text),
            EngineEvent::Done { reason, .. } if cell.end.is_none() => cell.end = Some(Ok(*reason)),
            EngineEvent::Error { message, .. } => cell.end = Some(Err(message.clone())),
            _ => {}
        }
        if a.state.cells.iter().all(|c| c.end.is_some()) {
            a.state.done = true;
        }
        true
    }

    /// After every action and engine event: has the current step's goal been met?
    pub(super) fn lesson_tick(&mut self) {
        let holds = self.task_holds();
        let running = self.running.map(|r| r.generation);
        let Some(a) = self.lessons.active.as_mut() else {
            return;
        };
        let Some(step) = a.lesson.steps.get(a.step) else {
            return;
        };
        match &step.kind {
            StepKind::Task { .. } if holds => a.state.done = true,
            StepKind::Run { max_tokens, .. } if !a.state.done => {
                if let Some(g) = a.state.run_generation {
                    if running != Some(g) {
                        a.state.done = true;
                        let n = *max_tokens;
                        let cut = self.messages.last().is_some_and(|m| {
                            m.role == Role::Assistant && m.status == ReplyStatus::MaxTokens
                        });
                        if cut {
                            self.info(format!(
                                "the reply stopped at this step's {n}-token limit: Ctrl+N goes on"
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
