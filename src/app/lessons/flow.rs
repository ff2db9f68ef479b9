//! Stepping through a lesson: the list overlay, opening and closing lessons, running a
//! `run` step, answering quizzes, pointing at panes for `observe` steps, and checking
//! `task` conditions after every change. What a step does to the rest of the app goes
//! through [`App::update`] with the same [`Action`]s keys and slash commands produce.
//! Progress is saved whenever the step changes.

use super::{ActiveLesson, LessonSetup, StepState};
use crate::app::conversation::ReplyStatus;
use crate::app::keymap::Action;
use crate::app::overlay::Overlay;
use crate::app::App;
use crate::engine::api::EngineCommand;
use crate::i18n::{tr, tr_with};
use crate::lessons::{Lang, LessonEntry, StepKind};
use crate::transcript::Role;

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
                self.error(super::progress_problem(&p, self.lessons.lang.code()));
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
            self.overlay = Some(Overlay::LessonList);
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

    /// Lesson keys. `None`: not a lesson matter.
    pub(crate) fn lesson_action(&mut self, action: &Action) -> Option<Vec<EngineCommand>> {
        match action {
            Action::ToggleLessons => self.overlay = Some(Overlay::LessonList),
            Action::SwitchLang => self.switch_lang(),
            Action::LessonNext => return Some(self.lesson_next()),
            Action::LessonBack => return Some(self.lesson_back()),
            Action::LessonScrollUp | Action::LessonScrollDown => {
                if let Some(a) = self.lessons.active.as_mut() {
                    a.scroll = if *action == Action::LessonScrollUp {
                        a.scroll.saturating_sub(3)
                    } else {
                        a.scroll.saturating_add(3).min(500)
                    };
                }
            }
            Action::Answer(n) => self.answer(*n as usize),
            Action::Stop if self.experiment_running() => return Some(self.stop_experiment()),
            _ => return None,
        }
        if !matches!(action, Action::ToggleLessons | Action::SwitchLang) && !self.lesson_open() {
            self.info(tr("notice.no_lesson_open", self.lang().code()));
        }
        Some(Vec::new())
    }

    /// Keys while the lesson list is open.
    pub(crate) fn lesson_list_action(&mut self, action: &Action) -> Vec<EngineCommand> {
        let n = self.lessons.library.entries.len();
        match action {
            Action::ToggleLessons | Action::Stop => self.overlay = None,
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
                        self.overlay = None;
                        return self.open_lesson(i);
                    }
                    Some(LessonEntry::Broken { errors, .. }) => {
                        let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
                        self.error(tr_with(
                            "notice.lesson_file_problems",
                            self.lang().code(),
                            &[("why", &first)],
                        ));
                    }
                    None => {}
                }
            }
            Action::Delete => {
                self.close_lesson();
                self.overlay = None;
            }
            Action::SwitchLang => self.switch_lang(),
            Action::Quit | Action::Interrupt => {
                self.overlay = None;
                return self.quit_or_interrupt(action);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Open the lesson of `entries[index]` at its saved step.
    pub(crate) fn open_lesson(&mut self, index: usize) -> Vec<EngineCommand> {
        let Some(lesson) = self
            .lessons
            .library
            .entries
            .get(index)
            .and_then(|e| e.lesson())
        else {
            return Vec::new();
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
        self.enter_step(step)
    }

    fn close_lesson(&mut self) {
        self.lessons.active = None;
        self.lessons.progress.current = None;
        self.save_progress();
    }

    fn enter_step(&mut self, step: usize) -> Vec<EngineCommand> {
        let Some(a) = self.lessons.active.as_mut() else {
            return Vec::new();
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
        let mut cmds = Vec::new();
        if let Some((pane, layer, token)) = observe {
            // Bring what the step points at into view, as the learner's keys would.
            let mut actions = vec![Action::CloseOverlay, Action::ShowPane(pane)];
            actions.extend(layer.map(Action::SelectLayer));
            actions.extend(token.map(Action::SelectReplyToken));
            for a in actions {
                cmds.extend(self.apply_from_lesson(a));
            }
        }
        cmds
    }

    /// An action a lesson step takes, applied like a key press (without re-entering the
    /// lesson's own handling).
    fn apply_from_lesson(&mut self, action: Action) -> Vec<EngineCommand> {
        self.update(action)
    }

    /// Render the current step's text in the current language.
    pub(crate) fn render_step(&mut self) {
        let lang = self.lessons.lang;
        let Some(a) = self.lessons.active.as_ref() else {
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
        let rendered = self.chat.render_markdown(&src);
        if let Some(a) = self.lessons.active.as_mut() {
            a.rendered = rendered;
        }
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
            self.error(super::progress_problem(&e, self.lessons.lang.code()));
        }
    }

    pub(super) fn current_kind(&self) -> Option<(&StepKind, &StepState)> {
        let a = self.lessons.active.as_ref()?;
        Some((&a.current()?.kind, &a.state))
    }

    fn lesson_next(&mut self) -> Vec<EngineCommand> {
        let lang = self.lessons.lang;
        let Some((kind, state)) = self.current_kind() else {
            self.info(tr("notice.no_lesson_open", self.lang().code()));
            return Vec::new();
        };
        let (kind, state) = (kind.clone(), state.clone());
        match kind {
            StepKind::Run { .. } if state.run_generation.is_none() => return self.run_step(),
            StepKind::Run { .. } if !state.done => {
                self.info(tr("notice.reply_still_coming", lang.code()));
                return Vec::new();
            }
            StepKind::Experiment { .. } if state.cells.is_empty() => return self.run_experiment(),
            StepKind::Experiment { .. } if !state.done => {
                self.info(tr("notice.experiment_running", lang.code()));
                return Vec::new();
            }
            // Open the overlay with the lesson's grid; a later task waits for the runs
            // (`experiment_done`). Ctrl+N again goes on.
            StepKind::ExperimentFile { grid, .. } if !state.done => {
                self.open_experiments(Some(*grid));
                if let Some(a) = self.lessons.active.as_mut() {
                    a.state.done = true;
                }
                self.info(tr("exp.lesson_run", lang.code()));
                return Vec::new();
            }
            StepKind::Task { condition, hint } if !state.done && !state.skip_armed => {
                let why = match hint {
                    Some(h) => h.get(lang).to_string(),
                    None => condition.to_string(),
                };
                self.info(tr_with(
                    "notice.task_not_yet",
                    lang.code(),
                    &[("why", &why)],
                ));
                if let Some(a) = self.lessons.active.as_mut() {
                    a.state.skip_armed = true;
                }
                return Vec::new();
            }
            StepKind::Quiz { choices, .. } if !state.done => {
                let n = choices.len();
                self.info(tr_with("notice.pick_answer", lang.code(), &[("n", &n)]));
                return Vec::new();
            }
            _ => {}
        }
        self.advance()
    }

    fn advance(&mut self) -> Vec<EngineCommand> {
        let Some(a) = self.lessons.active.as_ref() else {
            return Vec::new();
        };
        if a.step + 1 < a.lesson.steps.len() {
            let next = a.step + 1;
            return self.enter_step(next);
        }
        let id = a.lesson.id.clone();
        let title = a.lesson.title.get(self.lessons.lang).to_string();
        let p = self.lessons.progress.lessons.entry(id).or_default();
        p.completed = true;
        p.step = 0;
        self.lessons.active = None;
        self.lessons.progress.current = None;
        self.save_progress();
        // The first-run preparation stays open (it is what the app is waiting on).
        if !matches!(self.overlay, Some(Overlay::Prep(_))) {
            self.overlay = Some(Overlay::LessonList);
        }
        self.info(tr_with(
            "notice.lesson_complete",
            self.lang().code(),
            &[("title", &title)],
        ));
        Vec::new()
    }

    fn lesson_back(&mut self) -> Vec<EngineCommand> {
        match self.lessons.active.as_ref().map(|a| a.step) {
            Some(0) => self.info(tr("notice.first_step", self.lang().code())),
            Some(step) => return self.enter_step(step - 1),
            None => self.info(tr("notice.no_lesson_open", self.lang().code())),
        }
        Vec::new()
    }

    fn answer(&mut self, n: usize) {
        let Some(a) = self.lessons.active.as_mut() else {
            return;
        };
        let Some(StepKind::Quiz { choices, .. }) = a.lesson.steps.get(a.step).map(|s| &s.kind)
        else {
            self.info(tr("notice.not_a_quiz", self.lang().code()));
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

    /// Send a run step's prompt as a chat message with the step's settings: the same
    /// actions as setting the dials and pressing Enter.
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
        let (text, params, max_tokens) = (prompt.get(lang).to_string(), *params, *max_tokens);
        if let Some(why) = self.chat.cannot_start(lang.code()).or_else(|| {
            self.experiment_running()
                .then(|| tr("notice.experiment_running", lang.code()))
        }) {
            self.info(why);
            return Vec::new();
        }
        let mut cmds = self.apply_from_lesson(Action::SetSampling(params));
        let before = self.generation();
        cmds.extend(self.apply_from_lesson(Action::SendText { text, max_tokens }));
        let sent = (self.generation() != before).then(|| self.generation());
        if let Some(a) = self.lessons.active.as_mut() {
            a.state.run_generation = sent;
        }
        cmds
    }

    /// After every action and engine event: has the current step's goal been met?
    pub(crate) fn lesson_tick(&mut self) {
        let holds = self.task_holds();
        let running = self.chat.running.map(|r| r.generation);
        let cut = self
            .messages()
            .last()
            .is_some_and(|m| m.role == Role::Assistant && m.status == ReplyStatus::MaxTokens);
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
                        if cut {
                            self.info(tr_with(
                                "notice.step_token_limit",
                                self.lang().code(),
                                &[("n", &n)],
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
