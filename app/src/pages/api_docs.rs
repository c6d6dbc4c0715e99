//! `/api/docs`: the REST API reference, read from the server's own OpenAPI document (the one at
//! `/api/v1/openapi.json`, generated from the handlers), so the page cannot drift from the API.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::components::refusal::Refusal;
use crate::error::AppError;

/// The server's OpenAPI document, put in the UI's context by the server.
#[cfg(feature = "ssr")]
#[derive(Clone, Copy)]
pub struct OpenApiDocument(pub &'static serde_json::Value);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiDocs {
    pub title: String,
    pub description: String,
    pub version: String,
    pub groups: Vec<OperationGroup>,
    /// The named schemas bodies refer to, as pretty JSON Schema.
    pub schemas: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationGroup {
    pub tag: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<Param>,
    /// The request body's schema name.
    pub body: Option<String>,
    pub responses: Vec<ResponseDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub kind: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseDoc {
    pub status: String,
    pub description: String,
    pub schema: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "api_reference", input = GetUrl)]
pub async fn api_reference() -> Result<ApiDocs, AppError> {
    let doc = use_context::<OpenApiDocument>().ok_or_else(|| AppError::Transport("the OpenAPI document is missing".into()))?;
    Ok(reference(doc.0))
}

/// The parts of an OpenAPI 3.1 document the page shows.
#[cfg(feature = "ssr")]
fn reference(doc: &serde_json::Value) -> ApiDocs {
    use serde_json::Value;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let schema_name = |v: &Value| -> Option<String> {
        let r = v.get("$ref").or_else(|| v.pointer("/items/$ref"))?.as_str()?;
        let name = r.rsplit('/').next()?.to_owned();
        Some(if v.get("items").is_some() { format!("{name}[]") } else { name })
    };
    let kind = |v: &Value| -> String {
        match &v["type"] {
            Value::String(t) => t.clone(),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" | "),
            _ => schema_name(v).unwrap_or_else(|| "any".into()),
        }
    };
    let body_schema = |content: &Value| -> Option<String> {
        let (media, c) = content.as_object()?.iter().next()?;
        let s = &c["schema"];
        schema_name(s).or_else(|| Some(format!("{} ({media})", kind(s))))
    };
    let mut groups: Vec<OperationGroup> = doc["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| OperationGroup { tag: text(&t["name"]), description: text(&t["description"]), operations: vec![] })
                .collect()
        })
        .unwrap_or_default();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Param {
                    name: text(&p["name"]),
                    location: text(&p["in"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    kind: kind(&p["schema"]),
                    description: text(&p["description"]),
                })
                .collect();
            let mut responses: Vec<ResponseDoc> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| ResponseDoc {
                    status: status.clone(),
                    description: text(&r["description"]),
                    schema: body_schema(&r["content"]),
                })
                .collect();
            responses.sort_by(|a, b| a.status.cmp(&b.status));
            let operation = Operation {
                id: text(&op["operationId"]),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                description: text(&op["description"]),
                params,
                body: body_schema(&op["requestBody"]["content"]),
                responses,
            };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            match groups.iter_mut().find(|g| g.tag == tag) {
                Some(g) => g.operations.push(operation),
                None => groups.push(OperationGroup { tag, description: String::new(), operations: vec![operation] }),
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| (name.clone(), serde_json::to_string_pretty(s).unwrap_or_default()))
        .collect();
    ApiDocs {
        title: text(&doc["info"]["title"]),
        description: text(&doc["info"]["description"]),
        version: text(&doc["info"]["version"]),
        groups,
        schemas,
    }
}

#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let reference = Resource::new(|| (), |_| api_reference());
    view! {
        <Title text="API reference" />
        <section class="page api-docs">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match reference.await {
                        Ok(r) => view! { <Reference r /> }.into_any(),
                        Err(e) => view! { <Refusal error=e back="/api/docs".to_owned() /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Reference(r: ApiDocs) -> impl IntoView {
    let toc = r
        .groups
        .iter()
        .map(|g| {
            let ops = g
                .operations
                .iter()
                .map(|o| {
                    view! {
                        <li>
                            <a href=format!("#{}", o.id)>
                                <span class=format!("method {}", o.method.to_lowercase())>{o.method.clone()}</span>
                                " "
                                <code>{o.path.trim_start_matches("/api/v1").to_owned()}</code>
                            </a>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <li>
                    <a href=format!("#tag-{}", g.tag)>{g.tag.clone()}</a>
                    <ul>{ops}</ul>
                </li>
            }
            .into_any()
        })
        .collect_view();
    let groups = r.groups.into_iter().map(|g| view! { <Group g /> }.into_any()).collect_view();
    let schemas = r
        .schemas
        .into_iter()
        .map(|(name, json)| {
            let id = format!("schema-{name}");
            view! {
                <details class="schema" id=id>
                    <summary>
                        <code>{name}</code>
                    </summary>
                    <pre>{json}</pre>
                </details>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <h1>{r.title} " " <span class="muted">{r.version}</span></h1>
        <p>{r.description}</p>
        <p>
            "The machine-readable document: " <a href="/api/v1/openapi.json">
                <code>"/api/v1/openapi.json"</code>
            </a> " (OpenAPI 3.1)."
        </p>
        <nav class="api-toc" aria-label="Operations">
            <ul>{toc.into_any()}</ul>
        </nav>
        {groups.into_any()}
        <h2 id="schemas">"Schemas"</h2>
        {schemas.into_any()}
    }
    .into_any()
}

#[component]
fn Group(g: OperationGroup) -> impl IntoView {
    let ops = g.operations.into_iter().map(|o| view! { <OperationView o /> }.into_any()).collect_view();
    let id = format!("tag-{}", g.tag);
    view! {
        <h2 id=id>{g.tag}</h2>
        <p class="muted">{g.description}</p>
        {ops}
    }
}

fn schema_link(name: &str) -> impl IntoView {
    let anchor = name.trim_end_matches("[]");
    if anchor.contains(' ') {
        view! { <code>{name.to_owned()}</code> }.into_any()
    } else {
        view! {
            <a href=format!("#schema-{anchor}")>
                <code>{name.to_owned()}</code>
            </a>
        }
        .into_any()
    }
}

#[component]
fn OperationView(o: Operation) -> impl IntoView {
    let params = (!o.params.is_empty()).then(|| {
        let rows = o
            .params
            .iter()
            .map(|p| {
                view! {
                    <tr>
                        <td>
                            <code>{p.name.clone()}</code>
                            {p.required.then_some(" (required)")}
                        </td>
                        <td>{p.location.clone()}</td>
                        <td>
                            <code>{p.kind.clone()}</code>
                        </td>
                        <td>{p.description.clone()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid dense">
                <caption>"Parameters"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"In"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Description"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    });
    let body = o.body.as_deref().map(|b| view! { <p>"Request body: " {schema_link(b)}</p> });
    let responses = o
        .responses
        .iter()
        .map(|r| {
            view! {
                <tr>
                    <td>
                        <code>{r.status.clone()}</code>
                    </td>
                    <td>{r.description.clone()}</td>
                    <td>{r.schema.as_deref().map(schema_link)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <article class="operation" id=o.id.clone()>
            <h3>
                <span class=format!("method {}", o.method.to_lowercase())>{o.method.clone()}</span>
                " "
                <code>{o.path.clone()}</code>
            </h3>
            <p>{o.summary.clone()}</p>
            {(!o.description.is_empty()).then(|| view! { <p class="muted">{o.description.clone()}</p> })}
            {params}
            {body}
            <table class="grid dense">
                <caption>"Responses"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Meaning"</th>
                        <th scope="col">"Body"</th>
                    </tr>
                </thead>
                <tbody>{responses}</tbody>
            </table>
        </article>
    }
    .into_any()
}
