--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: agent_status; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_status (
    home character varying(64) NOT NULL,
    state character varying(16) NOT NULL,
    version character varying(32),
    outbox_depth integer,
    clock_synced boolean,
    t double precision,
    updated_at double precision NOT NULL
);


--
-- Name: alerts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alerts (
    id integer NOT NULL,
    home character varying(64) NOT NULL,
    device character varying(64) NOT NULL,
    kind character varying(48) NOT NULL,
    severity character varying(16) NOT NULL,
    state character varying(16) NOT NULL,
    opened_at double precision NOT NULL,
    first_event_t double precision NOT NULL,
    last_event_at double precision NOT NULL,
    event_count integer NOT NULL,
    acknowledged_by character varying(64),
    acknowledged_at double precision,
    on_site_by character varying(64),
    on_site_at double precision,
    resolved_by character varying(64),
    resolved_at double precision,
    resolution character varying(32),
    resolution_note text,
    data json NOT NULL,
    paging boolean NOT NULL,
    level integer NOT NULL,
    next_escalation_at double precision,
    next_reminder_at double precision,
    ack_due_at double precision,
    arrival_due_at double precision,
    ack_breached boolean NOT NULL,
    arrival_breached boolean NOT NULL,
    recovered_at double precision
);


--
-- Name: alerts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.alerts_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: alerts_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.alerts_id_seq OWNED BY public.alerts.id;


--
-- Name: audit; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit (
    id integer NOT NULL,
    at double precision NOT NULL,
    actor character varying(64) NOT NULL,
    action character varying(48) NOT NULL,
    alert_id integer,
    home character varying(64),
    detail json NOT NULL
);


--
-- Name: audit_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.audit_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: audit_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.audit_id_seq OWNED BY public.audit.id;


--
-- Name: caregivers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.caregivers (
    id character varying(64) NOT NULL,
    name character varying(200) NOT NULL,
    site_id character varying(64) NOT NULL,
    role character varying(16) NOT NULL,
    notify json NOT NULL,
    active boolean NOT NULL,
    home_id character varying(64)
);


--
-- Name: dead_letters; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.dead_letters (
    id integer NOT NULL,
    at double precision NOT NULL,
    topic character varying(512) NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    attempts integer NOT NULL,
    home character varying(64)
);


--
-- Name: dead_letters_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.dead_letters_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: dead_letters_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.dead_letters_id_seq OWNED BY public.dead_letters.id;


--
-- Name: deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.deliveries (
    id integer NOT NULL,
    page_id integer NOT NULL,
    alert_id integer NOT NULL,
    caregiver_id character varying(64) NOT NULL,
    channel character varying(400) NOT NULL,
    ok boolean NOT NULL,
    error text,
    at double precision NOT NULL
);


--
-- Name: deliveries_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.deliveries_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: deliveries_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.deliveries_id_seq OWNED BY public.deliveries.id;


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    home character varying(64) NOT NULL,
    id character varying(80) NOT NULL,
    device character varying(64) NOT NULL,
    kind character varying(48) NOT NULL,
    severity character varying(16) NOT NULL,
    seq integer NOT NULL,
    t double precision NOT NULL,
    data json NOT NULL,
    received_at double precision NOT NULL,
    received_order integer NOT NULL,
    clock_untrusted boolean NOT NULL,
    alert_id integer
);


--
-- Name: homes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.homes (
    id character varying(64) NOT NULL,
    site_id character varying(64) NOT NULL,
    address character varying(400) NOT NULL,
    resident_name character varying(200) NOT NULL,
    doctor_notify json NOT NULL,
    rules json DEFAULT '{}'::json NOT NULL,
    active boolean DEFAULT true NOT NULL
);


--
-- Name: pages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pages (
    id integer NOT NULL,
    alert_id integer NOT NULL,
    caregiver_id character varying(64) NOT NULL,
    level integer NOT NULL,
    reason character varying(16) NOT NULL,
    state character varying(16) NOT NULL,
    created_at double precision NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at double precision NOT NULL,
    sent_at double precision
);


--
-- Name: pages_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.pages_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: pages_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.pages_id_seq OWNED BY public.pages.id;


--
-- Name: rota_overrides; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rota_overrides (
    id integer NOT NULL,
    site_id character varying(64) NOT NULL,
    caregiver_id character varying(64) NOT NULL,
    role character varying(16) NOT NULL,
    start_at double precision NOT NULL,
    end_at double precision NOT NULL
);


--
-- Name: rota_overrides_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.rota_overrides_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: rota_overrides_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.rota_overrides_id_seq OWNED BY public.rota_overrides.id;


--
-- Name: rota_shifts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rota_shifts (
    id integer NOT NULL,
    site_id character varying(64) NOT NULL,
    caregiver_id character varying(64) NOT NULL,
    role character varying(16) NOT NULL,
    days json NOT NULL,
    start character varying(5) NOT NULL,
    "end" character varying(5) NOT NULL
);


--
-- Name: rota_shifts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.rota_shifts_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: rota_shifts_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.rota_shifts_id_seq OWNED BY public.rota_shifts.id;


--
-- Name: silences; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.silences (
    id integer NOT NULL,
    home character varying(64) NOT NULL,
    by character varying(64) NOT NULL,
    start double precision NOT NULL,
    "end" double precision NOT NULL,
    reason text NOT NULL
);


--
-- Name: silences_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.silences_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: silences_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.silences_id_seq OWNED BY public.silences.id;


--
-- Name: sites; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sites (
    id character varying(64) NOT NULL,
    name character varying(200) NOT NULL,
    kind character varying(16) NOT NULL,
    timezone character varying(64) NOT NULL,
    ack_target_s double precision NOT NULL,
    arrival_target_s double precision NOT NULL,
    escalation json DEFAULT '[]'::json NOT NULL,
    reminder_every_s double precision DEFAULT '60'::double precision NOT NULL,
    rules json DEFAULT '{}'::json NOT NULL,
    active boolean DEFAULT true NOT NULL
);


--
-- Name: alerts id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alerts ALTER COLUMN id SET DEFAULT nextval('public.alerts_id_seq'::regclass);


--
-- Name: audit id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit ALTER COLUMN id SET DEFAULT nextval('public.audit_id_seq'::regclass);


--
-- Name: dead_letters id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dead_letters ALTER COLUMN id SET DEFAULT nextval('public.dead_letters_id_seq'::regclass);


--
-- Name: deliveries id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.deliveries ALTER COLUMN id SET DEFAULT nextval('public.deliveries_id_seq'::regclass);


--
-- Name: pages id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages ALTER COLUMN id SET DEFAULT nextval('public.pages_id_seq'::regclass);


--
-- Name: rota_overrides id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_overrides ALTER COLUMN id SET DEFAULT nextval('public.rota_overrides_id_seq'::regclass);


--
-- Name: rota_shifts id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_shifts ALTER COLUMN id SET DEFAULT nextval('public.rota_shifts_id_seq'::regclass);


--
-- Name: silences id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.silences ALTER COLUMN id SET DEFAULT nextval('public.silences_id_seq'::regclass);


--
-- Data for Name: agent_status; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.agent_status VALUES ('home-1', 'online', '0.1.0', 0, true, 1764000000, 1764000000);


--
-- Data for Name: alerts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.alerts VALUES (3, 'home-3', 'mat', 'low_battery', 'low', 'open', 1764000000, 1764000000, 1764000000, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{"device": "mat", "n": 3}', false, 0, NULL, NULL, NULL, NULL, false, false, NULL);
INSERT INTO public.alerts VALUES (2, 'home-2', '', 'fall', 'critical', 'open', 1764000000, 1764000000, 1764000000, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{"device": "mat", "n": 2}', true, 1, 1764000360, 1764000260, 1764000120, 1764000900, true, false, NULL);
INSERT INTO public.alerts VALUES (4, 'home-9', '', 'unknown_home', 'high', 'open', 1764000000, 1764000000, 1764000000, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{"device": "btn"}', true, 0, NULL, 1764000260, NULL, NULL, false, false, NULL);
INSERT INTO public.alerts VALUES (5, 'home-9', '', 'call', 'critical', 'open', 1764000000, 1764000000, 1764000000, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{"device": "btn", "n": 4}', true, 0, NULL, 1764000260, NULL, NULL, false, false, NULL);
INSERT INTO public.alerts VALUES (1, 'home-1', '', 'call', 'critical', 'resolved', 1764000000, 1764000000, 1764000000, 1, 'cg-a', 1764000200, 'cg-a', 1764000200, 'cg-a', 1764000200, 'real', 'helped up', '{"device": "btn", "n": 1}', true, 1, 1764000360, 1764000260, 1764000120, 1764000900, true, false, NULL);


--
-- Data for Name: audit; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.audit VALUES (1, 1764000000, 'system', 'opened', 1, 'home-1', '{"device": "btn", "t": 1764000000.0}');
INSERT INTO public.audit VALUES (2, 1764000000, 'system', 'opened', 2, 'home-2', '{"device": "mat", "t": 1764000000.0}');
INSERT INTO public.audit VALUES (3, 1764000000, 'system', 'opened', 3, 'home-3', '{"device": "mat", "t": 1764000000.0}');
INSERT INTO public.audit VALUES (4, 1764000000, 'system', 'opened', 4, 'home-9', '{"device": "btn", "t": 1764000000.0}');
INSERT INTO public.audit VALUES (5, 1764000000, 'system', 'opened', 5, 'home-9', '{"device": "btn", "t": 1764000000.0}');
INSERT INTO public.audit VALUES (6, 1764000000, 'system', 'paged', 1, 'home-1', '{"caregiver": "cg-a", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO public.audit VALUES (7, 1764000000, 'system', 'paged', 2, 'home-2', '{"caregiver": "cg-a", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO public.audit VALUES (8, 1764000000, 'system', 'paged', 4, 'home-9', '{"caregiver": "desk-li", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO public.audit VALUES (9, 1764000000, 'system', 'paged', 5, 'home-9', '{"caregiver": "desk-li", "attempt": 1, "reason": "alert", "level": 0}');
INSERT INTO public.audit VALUES (10, 1764000200, 'system', 'escalated', 1, 'home-1', '{"level": 1, "role": "backup"}');
INSERT INTO public.audit VALUES (11, 1764000200, 'system', 'sla_ack_breached', 1, 'home-1', '{}');
INSERT INTO public.audit VALUES (12, 1764000200, 'system', 'escalated', 2, 'home-2', '{"level": 1, "role": "backup"}');
INSERT INTO public.audit VALUES (13, 1764000200, 'system', 'sla_ack_breached', 2, 'home-2', '{}');
INSERT INTO public.audit VALUES (14, 1764000200, 'system', 'paged', 1, 'home-1', '{"caregiver": "cg-a", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO public.audit VALUES (15, 1764000200, 'system', 'paged', 1, 'home-1', '{"caregiver": "cg-b", "attempt": 1, "reason": "escalation", "level": 1}');
INSERT INTO public.audit VALUES (16, 1764000200, 'system', 'paged', 2, 'home-2', '{"caregiver": "cg-a", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO public.audit VALUES (17, 1764000200, 'system', 'paged', 2, 'home-2', '{"caregiver": "cg-b", "attempt": 1, "reason": "escalation", "level": 1}');
INSERT INTO public.audit VALUES (18, 1764000200, 'system', 'paged', 4, 'home-9', '{"caregiver": "desk-li", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO public.audit VALUES (19, 1764000200, 'system', 'paged', 5, 'home-9', '{"caregiver": "desk-li", "attempt": 1, "reason": "reminder", "level": 0}');
INSERT INTO public.audit VALUES (20, 1764000200, 'cg-a', 'acknowledged', 1, 'home-1', '{"from": "open"}');
INSERT INTO public.audit VALUES (21, 1764000200, 'cg-a', 'on_site', 1, 'home-1', '{"from": "acknowledged"}');
INSERT INTO public.audit VALUES (22, 1764000200, 'cg-a', 'resolved', 1, 'home-1', '{"from": "on_site", "resolution": "real", "note": "helped up"}');
INSERT INTO public.audit VALUES (23, 1764000200, 'cg-a', 'silenced', NULL, 'home-2', '{"until": 1764003800.0, "reason": "on site"}');


--
-- Data for Name: caregivers; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.caregivers VALUES ('cg-a', 'Zhang Min', 'town', 'oncall', '["json://a/"]', true, NULL);
INSERT INTO public.caregivers VALUES ('cg-b', 'Huang Li', 'town', 'backup', '["json://fail-b/", "json://b/"]', true, NULL);
INSERT INTO public.caregivers VALUES ('cg-v', 'Chen Bo', 'village', 'oncall', '["json://v/"]', true, NULL);
INSERT INTO public.caregivers VALUES ('desk-li', 'Li Na', '_org', 'desk', '["json://desk/"]', true, NULL);
INSERT INTO public.caregivers VALUES ('tech-wu', 'Wu Gang', '_org', 'technician', '["json://tech/"]', true, NULL);
INSERT INTO public.caregivers VALUES ('fam-home-1-1', 'Son', 'town', 'family', '["json://son/"]', true, 'home-1');
INSERT INTO public.caregivers VALUES ('doc-home-1', 'Doctor of Wang Guirong', 'town', 'doctor', '["json://doctor/"]', true, 'home-1');


--
-- Data for Name: dead_letters; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.dead_letters VALUES (1, 1764000000, 'bw/v1/home-2/events', '\xff7b', 'not JSON', 3, 'home-2');


--
-- Data for Name: deliveries; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.deliveries VALUES (1, 1, 1, 'cg-a', 'json://a/', true, NULL, 1764000000);
INSERT INTO public.deliveries VALUES (2, 2, 2, 'cg-a', 'json://a/', true, NULL, 1764000000);
INSERT INTO public.deliveries VALUES (3, 3, 4, 'desk-li', 'json://desk/', true, NULL, 1764000000);
INSERT INTO public.deliveries VALUES (4, 4, 5, 'desk-li', 'json://desk/', true, NULL, 1764000000);
INSERT INTO public.deliveries VALUES (5, 5, 1, 'cg-a', 'json://a/', true, NULL, 1764000200);
INSERT INTO public.deliveries VALUES (6, 6, 1, 'cg-b', 'json://fail-b/', false, 'refused', 1764000200);
INSERT INTO public.deliveries VALUES (7, 6, 1, 'cg-b', 'json://b/', true, NULL, 1764000200);
INSERT INTO public.deliveries VALUES (8, 7, 2, 'cg-a', 'json://a/', true, NULL, 1764000200);
INSERT INTO public.deliveries VALUES (9, 8, 2, 'cg-b', 'json://fail-b/', false, 'refused', 1764000200);
INSERT INTO public.deliveries VALUES (10, 8, 2, 'cg-b', 'json://b/', true, NULL, 1764000200);
INSERT INTO public.deliveries VALUES (11, 9, 4, 'desk-li', 'json://desk/', true, NULL, 1764000200);
INSERT INTO public.deliveries VALUES (12, 10, 5, 'desk-li', 'json://desk/', true, NULL, 1764000200);


--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events VALUES ('home-1', 'e-1', 'btn', 'call', 'critical', 1, 1764000000, '{"n": 1}', 1764000000, 1, false, 1);
INSERT INTO public.events VALUES ('home-2', 'e-2', 'mat', 'fall', 'critical', 2, 1764000000, '{"n": 2}', 1764000000, 2, false, 2);
INSERT INTO public.events VALUES ('home-3', 'e-3', 'mat', 'low_battery', 'critical', 3, 1764000000, '{"n": 3}', 1764000000, 3, false, 3);
INSERT INTO public.events VALUES ('home-9', 'e-4', 'btn', 'call', 'critical', 4, 1764000000, '{"n": 4}', 1764000000, 4, false, 5);


--
-- Data for Name: homes; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.homes VALUES ('home-1', 'town', 'Qingshan Road 12', 'Wang Guirong', '["json://doctor/"]', '{"bed_exit": {"page": true}}', true);
INSERT INTO public.homes VALUES ('home-2', 'town', 'Hill Lane 3', 'Li Xiu', '[]', '{}', true);
INSERT INTO public.homes VALUES ('home-3', 'village', 'Shangping 7', 'Zhao Ming', '[]', '{}', true);


--
-- Data for Name: pages; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.pages VALUES (1, 1, 'cg-a', 0, 'alert', 'sent', 1764000000, 1, 1764000000, 1764000000);
INSERT INTO public.pages VALUES (2, 2, 'cg-a', 0, 'alert', 'sent', 1764000000, 1, 1764000000, 1764000000);
INSERT INTO public.pages VALUES (3, 4, 'desk-li', 0, 'alert', 'sent', 1764000000, 1, 1764000000, 1764000000);
INSERT INTO public.pages VALUES (4, 5, 'desk-li', 0, 'alert', 'sent', 1764000000, 1, 1764000000, 1764000000);
INSERT INTO public.pages VALUES (5, 1, 'cg-a', 0, 'reminder', 'sent', 1764000200, 1, 1764000200, 1764000200);
INSERT INTO public.pages VALUES (6, 1, 'cg-b', 1, 'escalation', 'sent', 1764000200, 1, 1764000200, 1764000200);
INSERT INTO public.pages VALUES (7, 2, 'cg-a', 0, 'reminder', 'sent', 1764000200, 1, 1764000200, 1764000200);
INSERT INTO public.pages VALUES (8, 2, 'cg-b', 1, 'escalation', 'sent', 1764000200, 1, 1764000200, 1764000200);
INSERT INTO public.pages VALUES (9, 4, 'desk-li', 0, 'reminder', 'sent', 1764000200, 1, 1764000200, 1764000200);
INSERT INTO public.pages VALUES (10, 5, 'desk-li', 0, 'reminder', 'sent', 1764000200, 1, 1764000200, 1764000200);


--
-- Data for Name: rota_overrides; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rota_overrides VALUES (1, 'town', 'cg-b', 'oncall', 1795579200, 1795586400);


--
-- Data for Name: rota_shifts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.rota_shifts VALUES (1, 'town', 'cg-a', 'oncall', '["mon", "tue"]', '20:00', '08:00');


--
-- Data for Name: silences; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.silences VALUES (1, 'home-2', 'cg-a', 1764000200, 1764003800, 'on site');


--
-- Data for Name: sites; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.sites VALUES ('_org', 'Organisation: desk and technicians', 'urban', 'Asia/Shanghai', 60, 60, '[]', 60, '{}', true);
INSERT INTO public.sites VALUES ('town', 'Town station', 'urban', 'Asia/Shanghai', 120, 900, '[{"role": "oncall", "after_s": 0.0}, {"role": "backup", "after_s": 180.0}, {"role": "supervisor", "after_s": 360.0}, {"role": "family", "after_s": 600.0}]', 60, '{"low_battery": {"page": true}}', true);
INSERT INTO public.sites VALUES ('village', 'Village station', 'rural', 'Asia/Shanghai', 120, 1800, '[{"role": "oncall", "after_s": 0.0}, {"role": "backup", "after_s": 180.0}, {"role": "supervisor", "after_s": 360.0}, {"role": "family", "after_s": 600.0}]', 60, '{}', true);


--
-- Name: alerts_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.alerts_id_seq', 5, true);


--
-- Name: audit_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_id_seq', 23, true);


--
-- Name: dead_letters_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.dead_letters_id_seq', 1, true);


--
-- Name: deliveries_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.deliveries_id_seq', 12, true);


--
-- Name: pages_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.pages_id_seq', 10, true);


--
-- Name: rota_overrides_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.rota_overrides_id_seq', 1, true);


--
-- Name: rota_shifts_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.rota_shifts_id_seq', 1, true);


--
-- Name: silences_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.silences_id_seq', 1, true);


--
-- Name: agent_status agent_status_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_status
    ADD CONSTRAINT agent_status_pkey PRIMARY KEY (home);


--
-- Name: alerts alerts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alerts
    ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);


--
-- Name: audit audit_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (id);


--
-- Name: caregivers caregivers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.caregivers
    ADD CONSTRAINT caregivers_pkey PRIMARY KEY (id);


--
-- Name: dead_letters dead_letters_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dead_letters
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (id);


--
-- Name: deliveries deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_pkey PRIMARY KEY (id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (home, id);


--
-- Name: homes homes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.homes
    ADD CONSTRAINT homes_pkey PRIMARY KEY (id);


--
-- Name: pages pages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages
    ADD CONSTRAINT pages_pkey PRIMARY KEY (id);


--
-- Name: rota_overrides rota_overrides_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_overrides
    ADD CONSTRAINT rota_overrides_pkey PRIMARY KEY (id);


--
-- Name: rota_shifts rota_shifts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_shifts
    ADD CONSTRAINT rota_shifts_pkey PRIMARY KEY (id);


--
-- Name: silences silences_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.silences
    ADD CONSTRAINT silences_pkey PRIMARY KEY (id);


--
-- Name: sites sites_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sites
    ADD CONSTRAINT sites_pkey PRIMARY KEY (id);


--
-- Name: alerts_group; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX alerts_group ON public.alerts USING btree (home, kind, device, state);


--
-- Name: ix_alerts_home; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_alerts_home ON public.alerts USING btree (home);


--
-- Name: ix_alerts_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_alerts_state ON public.alerts USING btree (state);


--
-- Name: ix_audit_alert_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_alert_id ON public.audit USING btree (alert_id);


--
-- Name: ix_audit_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_at ON public.audit USING btree (at);


--
-- Name: ix_dead_letters_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_dead_letters_at ON public.dead_letters USING btree (at);


--
-- Name: ix_dead_letters_home; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_dead_letters_home ON public.dead_letters USING btree (home);


--
-- Name: ix_deliveries_alert_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_deliveries_alert_id ON public.deliveries USING btree (alert_id);


--
-- Name: ix_deliveries_page_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_deliveries_page_id ON public.deliveries USING btree (page_id);


--
-- Name: ix_events_received_order; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_received_order ON public.events USING btree (received_order);


--
-- Name: ix_pages_alert_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_pages_alert_id ON public.pages USING btree (alert_id);


--
-- Name: ix_pages_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_pages_state ON public.pages USING btree (state);


--
-- Name: ix_rota_overrides_site_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_rota_overrides_site_id ON public.rota_overrides USING btree (site_id);


--
-- Name: ix_rota_shifts_site_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_rota_shifts_site_id ON public.rota_shifts USING btree (site_id);


--
-- Name: ix_silences_home; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_silences_home ON public.silences USING btree (home);


--
-- Name: caregivers caregivers_site_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.caregivers
    ADD CONSTRAINT caregivers_site_id_fkey FOREIGN KEY (site_id) REFERENCES public.sites(id);


--
-- Name: deliveries deliveries_page_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.deliveries
    ADD CONSTRAINT deliveries_page_id_fkey FOREIGN KEY (page_id) REFERENCES public.pages(id);


--
-- Name: events events_alert_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alerts(id);


--
-- Name: homes homes_site_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.homes
    ADD CONSTRAINT homes_site_id_fkey FOREIGN KEY (site_id) REFERENCES public.sites(id);


--
-- Name: pages pages_alert_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages
    ADD CONSTRAINT pages_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alerts(id);


--
-- Name: pages pages_caregiver_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pages
    ADD CONSTRAINT pages_caregiver_id_fkey FOREIGN KEY (caregiver_id) REFERENCES public.caregivers(id);


--
-- Name: rota_overrides rota_overrides_caregiver_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_overrides
    ADD CONSTRAINT rota_overrides_caregiver_id_fkey FOREIGN KEY (caregiver_id) REFERENCES public.caregivers(id);


--
-- Name: rota_overrides rota_overrides_site_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_overrides
    ADD CONSTRAINT rota_overrides_site_id_fkey FOREIGN KEY (site_id) REFERENCES public.sites(id);


--
-- Name: rota_shifts rota_shifts_caregiver_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_shifts
    ADD CONSTRAINT rota_shifts_caregiver_id_fkey FOREIGN KEY (caregiver_id) REFERENCES public.caregivers(id);


--
-- Name: rota_shifts rota_shifts_site_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rota_shifts
    ADD CONSTRAINT rota_shifts_site_id_fkey FOREIGN KEY (site_id) REFERENCES public.sites(id);


--
-- PostgreSQL database dump complete
--


