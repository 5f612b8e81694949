//! The application shell: header and the page the router selects.

use leptos::prelude::*;

/// The Cruddur application root.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <header class="topbar">
            <h1>"Cruddur"</h1>
        </header>
        <main id="app-ready">
            <p>"Micro-blogging, traced from the click to the database."</p>
        </main>
    }
}
