//! The registry on the web, in German: the map of NRW (`/`), a page for every network
//! (`/netzwerke/{slug}`) and for a region without one (`/regionen/{key}`), and what other sites embed
//! (`/einbetten/netzwerke/{slug}`, `/einbetten/karte?bezirk=`).
//!
//! The pages are rendered on the server from the same data as the API, as an anonymous reader sees it
//! (never internal contacts, never withheld channels), from compile-time checked templates that escape
//! by default (`templates/`). They load nothing from anyone else's server and need no JavaScript. Like
//! the API's reads they carry ETags and `Cache-Control` and are answered from the read cache (see
//! [`is_page`]), so a write shows on the next page view.

pub mod geo;
pub mod german;
pub mod views;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::conditional::respond_bytes;
use super::state::AppState;
use crate::domain::{
    Access, Contact, ContactFilter, District, Expansion, Meeting, MeetingFilter, Network, NetworkFilter, Region,
    Timestamp,
};
use crate::http::state::State;
use crate::storage::{Db, StoreResult};
use views::{
    CardPage, DateView, EmbedMapPage, ErrorPage, MapPage, MapView, NetworkData, NetworkPage, NetworkView, PageMeta,
    RegionPage, script_json,
};

const HTML: &str = "text/html; charset=utf-8";
const STYLESHEET: &str = include_str!("../../../static/site.css");
const FAVICON: &str = include_str!("../../../static/favicon.svg");

/// The policy of the pages: their own stylesheet and images, nothing else, not framed.
const PAGE_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// The policy of the embeds: the same, but any site may frame them.
const EMBED_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *";

/// Whether a path is one of the pages' (for the read cache, which keeps anonymous answers of the API and
/// of the pages).
pub fn is_page(path: &str) -> bool {
    path == "/"
        || ["/netzwerke/", "/regionen/", "/einbetten/", "/static/"].iter().any(|prefix| path.starts_with(prefix))
}

/// Registers the pages' routes (after the API's: those are the hot paths).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(map)))
        .service(web::resource("/netzwerke/{slug}").route(web::get().to(network)))
        .service(web::resource("/regionen/{key}").route(web::get().to(region)))
        .service(web::resource("/einbetten/netzwerke/{slug}").route(web::get().to(card)))
        .service(web::resource("/einbetten/karte").route(web::get().to(embed_map)))
        .service(web::resource("/static/site.css").route(web::get().to(stylesheet)))
        .service(web::resource("/static/favicon.svg").route(web::get().to(favicon)));
}

/// Whether a page may be framed by other sites.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Denied,
    Anyone,
}

fn security_headers(response: &mut HttpResponse, framing: Framing) {
    let headers = response.headers_mut();
    match framing {
        Framing::Denied => {
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
        Framing::Anyone => {
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(EMBED_POLICY));
        }
    }
}

/// A page: ETag, `Cache-Control` and 304 like every read of the API.
fn page(req: &HttpRequest, body: String, framing: Framing) -> HttpResponse {
    let mut response = respond_bytes(req, &Access::Anonymous, StatusCode::OK, body.into_bytes(), HTML, None);
    security_headers(&mut response, framing);
    response
}

/// A page that went wrong: German, with a way back to the map.
#[derive(Debug)]
enum PageError {
    NotFound(String),
    BadRequest(String),
    Unavailable,
}

impl PageError {
    fn respond(&self, framing: Framing) -> HttpResponse {
        let (status, heading, message) = match self {
            PageError::NotFound(message) => (StatusCode::NOT_FOUND, "Seite nicht gefunden", message.clone()),
            PageError::BadRequest(message) => (StatusCode::BAD_REQUEST, "Ungültige Adresse", message.clone()),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Vorübergehend nicht erreichbar",
                "Das Register kann gerade nicht auf seine Daten zugreifen. Bitte versuchen Sie es in einigen \
                 Minuten noch einmal."
                    .to_string(),
            ),
        };
        let template = ErrorPage {
            page: PageMeta { embedded: framing == Framing::Anyone, ..PageMeta::about(heading, message.clone()) },
            status: status.as_u16(),
            heading: heading.to_string(),
            message,
        };
        let mut response = HttpResponse::build(status)
            .content_type(HTML)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(template.render().unwrap_or_default());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        security_headers(&mut response, framing);
        response
    }
}

/// Pages take no query parameters but those named: anything else is a mistake worth telling.
fn query(req: &HttpRequest, allowed: &[&str]) -> Result<Vec<(String, String)>, PageError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| PageError::BadRequest("Die Adresse enthält einen ungültigen Suchteil (nach dem „?“).".into()))?;
    if let Some((name, _)) = pairs.iter().find(|(name, _)| !allowed.contains(&name.as_str())) {
        let known = if allowed.is_empty() {
            "Diese Seite hat keine Parameter.".to_string()
        } else {
            format!("Erlaubt: {}.", allowed.iter().map(|a| format!("„{a}“")).collect::<Vec<_>>().join(", "))
        };
        let name: String = name.chars().take(60).collect();
        return Err(PageError::BadRequest(format!("Der Parameter „{name}“ ist hier unbekannt. {known}")));
    }
    Ok(pairs)
}

/// Runs a database read off the async workers.
async fn load<T: Send + 'static>(
    state: &State,
    work: impl FnOnce(&Db) -> StoreResult<T> + Send + 'static,
) -> Result<T, PageError> {
    let db = state.db.clone();
    match web::block(move || work(&db)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            tracing::warn!(%error, "a page could not read the registry");
            Err(PageError::Unavailable)
        }
        Err(_) => Err(PageError::Unavailable),
    }
}

fn absolute(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.config.public_url.trim_end_matches('/'))
}

/// The data of the map: Regierungsbezirke, regions, networks and the time of the last change.
struct MapData {
    districts: Vec<District>,
    regions: Vec<Region>,
    networks: Vec<Network>,
    last_change: Option<crate::domain::Timestamp>,
}

fn load_map(db: &Db) -> StoreResult<MapData> {
    Ok(MapData {
        districts: db.districts()?,
        regions: db.regions(None, None, 1000)?,
        networks: db.all::<Network>(&NetworkFilter::default(), &Access::Anonymous)?,
        last_change: db.last_change()?,
    })
}

/// What a page handler produces: the page's HTML, or a redirect to where the page is.
enum Outcome {
    Page(String),
    Redirect(HttpResponse),
}

fn finish(req: &HttpRequest, framing: Framing, outcome: Result<Outcome, PageError>) -> HttpResponse {
    match outcome {
        Ok(Outcome::Page(body)) => page(req, body, framing),
        Ok(Outcome::Redirect(redirect)) => redirect,
        Err(error) => error.respond(framing),
    }
}

fn render(template: &impl Template) -> Result<Outcome, PageError> {
    template.render().map(Outcome::Page).map_err(|error| {
        tracing::error!(%error, "a page template failed");
        PageError::Unavailable
    })
}

/// `GET /`: the map of NRW and the same as a list.
async fn map(req: HttpRequest, state: State) -> HttpResponse {
    finish(&req, Framing::Denied, map_page(&req, &state).await)
}

async fn map_page(req: &HttpRequest, state: &State) -> Result<Outcome, PageError> {
    query(req, &[])?;
    let data = load(state, load_map).await?;
    let map = MapView::build(views::geometry(), &data.districts, &data.regions, &data.networks, None, false);
    render(&MapPage {
        page: PageMeta {
            title: "Regionale Bildungsnetzwerke in NRW – Karte".into(),
            description: "Die Regionalen Bildungsnetzwerke der 53 Kreise und kreisfreien Städte in \
                          Nordrhein-Westfalen: Karte, Verträge, Gremien und Kontakte."
                .into(),
            canonical: Some(absolute(state, "/")),
            json_ld: None,
            shows_map: true,
            embedded: false,
        },
        map,
        last_change: data.last_change.as_ref().map(DateView::of_time),
    })
}

/// `GET /einbetten/karte?bezirk=`: the map alone, of NRW or of one Regierungsbezirk, for an iframe.
async fn embed_map(req: HttpRequest, state: State) -> HttpResponse {
    finish(&req, Framing::Anyone, embed_map_page(&req, &state).await)
}

async fn embed_map_page(req: &HttpRequest, state: &State) -> Result<Outcome, PageError> {
    let params = query(req, &["bezirk"])?;
    let district = match params.iter().find(|(name, _)| name == "bezirk") {
        None => None,
        Some((_, value)) => match value.parse::<i32>() {
            Ok(key) if crate::domain::reference::DISTRICT_KEYS.contains(&key) => Some(key),
            _ => {
                return Err(PageError::BadRequest(
                    "„bezirk“ ist die Nummer eines Regierungsbezirks: 1 (Düsseldorf), 3 (Köln), 5 (Münster), \
                     7 (Detmold) oder 9 (Arnsberg)."
                        .into(),
                ));
            }
        },
    };
    let data = load(state, load_map).await?;
    let map = MapView::build(views::geometry(), &data.districts, &data.regions, &data.networks, district, true);
    render(&EmbedMapPage {
        page: PageMeta { shows_map: true, embedded: true, ..PageMeta::about(&map.caption, map.caption.clone()) },
        map,
    })
}

/// Slugs and UUIDs only: anything else cannot name a network, and is not sent to the database.
fn plausible_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 100
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn load_network(db: &Db, key: &str) -> StoreResult<Option<NetworkData>> {
    let anonymous = Access::Anonymous;
    let Some(id) = db.network_id(key)? else { return Ok(None) };
    let Some(network) = db.get::<Network>(id, &anonymous)? else { return Ok(None) };
    let related = db.network_related(&network, Expansion::ALL, &anonymous)?;
    let region = db.region(&network.region_key)?;
    let district = match &region {
        Some(region) => db.district(region.district_key)?,
        None => None,
    };
    let district_contacts = match &district {
        Some(district) => district_contacts(db, district.key)?,
        None => Vec::new(),
    };
    Ok(Some(NetworkData {
        network,
        region,
        district,
        contracts: related.contracts,
        bodies: related.bodies,
        handlungsfelder: related.handlungsfelder,
        contacts: related.contacts,
        district_contacts,
        meetings: next_meetings(db, id)?,
    }))
}

/// How many of a network's next meetings its page shows.
const NEXT_MEETINGS: usize = 5;

/// The network's meetings that have not ended yet (as wide as their precision), soonest first.
fn next_meetings(db: &Db, network: uuid::Uuid) -> StoreResult<Vec<Meeting>> {
    let today = Timestamp::now().0.format("%Y-%m-%d").to_string().parse().ok();
    let filter = MeetingFilter { networks: Some(vec![network]), from: today, ..Default::default() };
    let mut meetings = db.all::<Meeting>(&filter, &Access::Anonymous)?;
    meetings.truncate(NEXT_MEETINGS);
    Ok(meetings)
}

/// The public contacts of a Bezirksregierung itself (its Servicestelle), not those of its networks.
fn district_contacts(db: &Db, district: i32) -> StoreResult<Vec<Contact>> {
    let filter = ContactFilter { district: Some(district), ..Default::default() };
    let contacts = db.all::<Contact>(&filter, &Access::Anonymous)?;
    Ok(contacts.into_iter().filter(|c| c.network_id.is_none() && c.body_id.is_none()).collect())
}

/// The network a page is about, or a redirect: a network named by its UUID is at the page of its slug.
async fn network_for_page(state: &State, key: String, prefix: &str) -> Result<Result<NetworkData, Outcome>, PageError> {
    let not_found = || {
        PageError::NotFound(
            "Unter dieser Adresse ist kein Regionales Bildungsnetzwerk verzeichnet. Auf der Karte finden Sie alle \
             Netzwerke in Nordrhein-Westfalen."
                .into(),
        )
    };
    if !plausible_key(&key) {
        return Err(not_found());
    }
    let lookup = key.clone();
    let data = load(state, move |db| load_network(db, &lookup)).await?.ok_or_else(not_found)?;
    if data.network.slug != key {
        let location = format!("{prefix}{}", data.network.slug);
        return Ok(Err(Outcome::Redirect(
            HttpResponse::PermanentRedirect().insert_header((header::LOCATION, location)).finish(),
        )));
    }
    Ok(Ok(data))
}

/// The page `page` makes of the network named `key` (no query parameters) and its view, or the redirect to
/// the network's page under `prefix`.
async fn with_network(
    req: &HttpRequest,
    state: &State,
    key: String,
    prefix: &str,
    page: impl FnOnce(NetworkData, NetworkView) -> Result<Outcome, PageError>,
) -> Result<Outcome, PageError> {
    query(req, &[])?;
    match network_for_page(state, key, prefix).await? {
        Ok(data) => {
            let view = NetworkView::build(&data);
            page(data, view)
        }
        Err(redirect) => Ok(redirect),
    }
}

/// `GET /netzwerke/{slug}`: a network's page.
async fn network(req: HttpRequest, state: State, path: web::Path<String>) -> HttpResponse {
    finish(&req, Framing::Denied, network_page(&req, &state, path.into_inner()).await)
}

async fn network_page(req: &HttpRequest, state: &State, key: String) -> Result<Outcome, PageError> {
    with_network(req, state, key, "/netzwerke/", |data, view| {
        let url = absolute(state, &format!("/netzwerke/{}", view.slug));
        let json_ld = script_json(&view.json_ld(&data, &url));
        let description = format!("{}: Kooperationsverträge, Gremien, Handlungsfelder und Kontakte.", view.name);
        render(&NetworkPage {
            page: PageMeta { canonical: Some(url), json_ld: Some(json_ld), ..PageMeta::about(&view.name, description) },
            net: view,
        })
    })
    .await
}

/// `GET /einbetten/netzwerke/{slug}`: a network's card, for an iframe on any site.
async fn card(req: HttpRequest, state: State, path: web::Path<String>) -> HttpResponse {
    finish(&req, Framing::Anyone, card_page(&req, &state, path.into_inner()).await)
}

async fn card_page(req: &HttpRequest, state: &State, key: String) -> Result<Outcome, PageError> {
    with_network(req, state, key, "/einbetten/netzwerke/", |_, view| {
        let description = format!("{} in {}", view.name, view.region_name);
        render(&CardPage { page: PageMeta { embedded: true, ..PageMeta::about(&view.name, description) }, net: view })
    })
    .await
}

/// `GET /regionen/{key}`: a Kreis or kreisfreie Stadt without a network; with one, its network's page.
async fn region(req: HttpRequest, state: State, path: web::Path<String>) -> HttpResponse {
    finish(&req, Framing::Denied, region_page(&req, &state, path.into_inner()).await)
}

async fn region_page(req: &HttpRequest, state: &State, key: String) -> Result<Outcome, PageError> {
    query(req, &[])?;
    let not_found = || {
        PageError::NotFound(
            "Regionen haben als Adresse ihren fünfstelligen Kreisschlüssel, z. B. /regionen/05158. Auf der Karte \
             finden Sie alle Kreise und kreisfreien Städte."
                .into(),
        )
    };
    if !crate::domain::reference::REGION_KEYS.contains(&key.as_str()) {
        return Err(not_found());
    }
    let (region, district, network, contacts) = load(state, move |db| {
        let Some(region) = db.region(&key)? else { return Ok(None) };
        let district = db.district(region.district_key)?;
        let filter = NetworkFilter { region: Some(key.clone()), ..Default::default() };
        let network = db.all::<Network>(&filter, &Access::Anonymous)?.into_iter().next();
        let contacts = district_contacts(db, region.district_key)?;
        Ok(Some((region, district, network, contacts)))
    })
    .await?
    .ok_or_else(not_found)?;
    if let Some(network) = network {
        let location = format!("/netzwerke/{}", network.slug);
        return Ok(Outcome::Redirect(HttpResponse::Found().insert_header((header::LOCATION, location)).finish()));
    }
    let page = PageMeta {
        canonical: Some(absolute(state, &format!("/regionen/{}", region.key))),
        ..PageMeta::about(&region.name, format!("{}: kein Regionales Bildungsnetzwerk im Register", region.name))
    };
    render(&RegionPage::build(page, &region, district.as_ref(), &contacts))
}

async fn stylesheet(req: HttpRequest) -> HttpResponse {
    respond_bytes(&req, &Access::Anonymous, StatusCode::OK, STYLESHEET.into(), "text/css; charset=utf-8", None)
}

async fn favicon(req: HttpRequest) -> HttpResponse {
    respond_bytes(&req, &Access::Anonymous, StatusCode::OK, FAVICON.into(), "image/svg+xml", None)
}
