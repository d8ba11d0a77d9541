"""Generate the binary documents of the Acme Widgets sample handbook.

The folder ``pipelines/samples/handbook/`` holds a small fictional staff handbook for
"Acme Widgets Ltd." that ships with Needle as demo and test material for the ingestion and
retrieval pipeline. It contains 15 documents in five formats: PDF, DOCX, HTML (intranet pages
with navigation, header, footer and script boilerplate around the article), Markdown and plain
text, three of them in Simplified Chinese (leave policy, VPN set-up guide, Shanghai office guide).
Every document carries concrete, distinctive facts (limits, amounts, system names, dates), so the
questions in ``tests/data/handbook_questions.json`` each have a single correct source document,
and for PDFs a single correct page. The Markdown, text and HTML files are maintained by hand in
that folder; this script holds the text of the PDF and DOCX files and writes them, so that the
binaries can be regenerated and reviewed as text. PDFs use only fpdf2's built-in core fonts and
must therefore stay Latin-1 (English) only. Output is deterministic: fixed creation dates and zip
timestamps mean that re-running the script produces byte-identical files.

Usage::

    python scripts/make_samples.py [--out-dir pipelines/samples/handbook]
"""

from __future__ import annotations

import argparse
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.shared import Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "pipelines" / "samples" / "handbook"
COMPANY = "Acme Widgets Ltd."
FIXED_DATE = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
ZIP_DATE = (2026, 11, 2, 9, 0, 0)


# --------------------------------------------------------------------------------------------
# Document model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """A section heading; level 1 is a section, level 2 a subsection."""

    text: str
    level: int = 1


@dataclass(frozen=True)
class Para:
    """A paragraph of running text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted (or numbered) list."""

    items: tuple[str, ...]
    numbered: bool = False


@dataclass(frozen=True)
class Table:
    """A simple table with a header row."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Para | Bullets | Table


@dataclass(frozen=True)
class PdfDoc:
    """A PDF document; each entry of ``pages`` is rendered on its own page."""

    filename: str
    title: str
    subtitle: str
    pages: tuple[tuple[Block, ...], ...]


@dataclass(frozen=True)
class DocxDoc:
    """A Word document rendered as one flow of blocks."""

    filename: str
    title: str
    subtitle: str
    blocks: tuple[Block, ...]


# --------------------------------------------------------------------------------------------
# PDF content (Latin-1 only: core fonts cannot render anything else)
# --------------------------------------------------------------------------------------------

TRAVEL_POLICY = PdfDoc(
    filename="travel-and-expenses-policy.pdf",
    title="Travel and Expenses Policy",
    subtitle="Version 3.1 - effective 1 January 2027 - Owner: Finance Director",
    pages=(
        # Page 1: scope, approvals, booking, insurance.
        (
            Heading("1. Purpose and scope"),
            Para(
                "This policy sets out how employees of Acme Widgets Ltd. plan, book and pay for "
                "business travel, and how they claim back business expenses. It applies to all "
                "employees, interns and contractors who travel or spend money on behalf of Acme. "
                "The aim is simple: travel safely, spend company money as carefully as you would "
                "spend your own, and get reimbursed quickly. Where this policy does not cover a "
                "situation, use good judgement and ask the Finance team before you spend."
            ),
            Heading("2. Approval before you travel"),
            Para(
                "Every business trip must be approved before anything is booked. Approval is "
                "requested in TripNest, our travel booking portal, and is routed automatically to "
                "the right approver."
            ),
            Bullets(
                (
                    "Domestic trips (within Ireland) need approval from your line manager.",
                    "International trips require director approval at least 10 business days "
                    "before departure. Late requests are only approved for urgent customer "
                    "issues.",
                    "Trips to countries rated high risk by our security provider also need "
                    "approval from the Head of Security, who will brief you before departure.",
                    "Trips for conferences must show the conference in the learning budget or "
                    "the marketing plan before approval is given.",
                )
            ),
            Heading("3. How to book"),
            Para(
                "All flights, trains, hotels and rental cars are booked through TripNest or "
                "through the Acme Travel Desk (travel@acme.example), which is staffed from 08:00 "
                "to 18:00 on working days. Bookings made through TripNest are paid centrally, so "
                "you do not need to use your own money. Only book privately if TripNest and the "
                "Travel Desk are both unavailable, and keep the receipts."
            ),
            Para(
                "Employees who travel more than four times a year can apply for an Acme Visa "
                "corporate card. The card is for business expenses only; personal spending on "
                "the card must be repaid within 14 days and may lead to the card being withdrawn."
            ),
            Heading("4. Travel insurance and safety"),
            Para(
                "All approved business trips are covered by the Acme group travel insurance, "
                "policy number ACM-TRV-2291. The policy covers medical emergencies, repatriation, "
                "lost luggage and trip cancellation. Your insurance card and the 24-hour "
                "assistance line are shown in the TripNest app. Register every trip in TripNest "
                "so that the security team can contact you if something happens at your "
                "destination."
            ),
            Para(
                "You may add up to three personal days to a business trip, for example a weekend "
                "before or after a conference. Any extra cost (hotel nights, a later flight) is "
                "yours, and the insurance only covers the business part of the trip."
            ),
        ),
        # Page 2: hotels and ground transport.
        (
            Heading("5. Hotels and accommodation"),
            Para(
                "Choose a hotel that is safe, reasonably close to where you are working and "
                "within the nightly limits below. The limits are per room per night, including "
                "taxes and breakfast. TripNest shows hotels within the limits first."
            ),
            Table(
                header=("Location", "Maximum per night"),
                rows=(
                    ("Standard limit (all other cities)", "160 EUR"),
                    ("London, Paris, New York, Zurich, Tokyo", "240 EUR"),
                    ("Shanghai", "180 EUR"),
                ),
            ),
            Para(
                "If no suitable hotel is available within the limit, for example during a large "
                "trade fair, ask the Travel Desk to approve an exception before you book. Private "
                "short-term rentals are allowed only for stays of more than 7 nights and must be "
                "booked through the Travel Desk. Hotel loyalty points may be kept, but must never "
                "be the reason for choosing a more expensive hotel."
            ),
            Heading("6. Trains and public transport"),
            Para(
                "Public transport is the default for getting around at your destination. Book "
                "rail tickets in standard class. First-class rail travel is allowed for journeys "
                "longer than 3 hours, because it allows you to work on the train. Airport "
                "express trains and local travel cards are reimbursed in full."
            ),
            Heading("7. Taxis and ride-hailing"),
            Para("Taxis and ride-hailing services are reimbursed only in these cases:"),
            Bullets(
                (
                    "when travelling between 22:00 and 06:00;",
                    "when carrying heavy or valuable equipment, such as demo kits;",
                    "when there is no public transport to your destination within 30 minutes;",
                    "when several colleagues share the ride and it is cheaper than public transport.",
                )
            ),
            Heading("8. Cars"),
            Para(
                "If you use your private car for business, Acme reimburses 0.35 EUR per km. Your "
                "car insurance must cover business use, and commuting between your home and "
                "Harbour House is not business travel. Rental cars must be booked through "
                "TripNest in the compact category unless you are driving four or more people; "
                "always accept the full insurance offered by our rental partner. Fuel for rental "
                "cars is reimbursed; refuel the car before you return it to avoid high charges. "
                "Parking fines and speeding tickets are never reimbursed."
            ),
        ),
        # Page 3: air travel.
        (
            Heading("9. Class of air travel"),
            Para(
                "Economy class is the default for all flights, for every employee including the "
                "leadership team. The following exceptions apply, based on the scheduled flight "
                "time of a single flight (not the total journey time):"
            ),
            Bullets(
                (
                    "Premium economy is allowed for flights between 5 and 8 hours.",
                    "Business class is allowed only for flights longer than 8 hours, and only "
                    "with the written approval of your director in TripNest.",
                    "First class is never allowed.",
                )
            ),
            Para(
                "If you have a medical reason for needing more space, the People Team can "
                "approve an exception on the advice of our occupational health provider. "
                "Upgrades paid with your own loyalty points are of course allowed."
            ),
            Heading("10. Booking flights"),
            Bullets(
                (
                    "Book flights at least 14 days in advance whenever possible; prices rise "
                    "sharply in the final two weeks.",
                    "Choose the lowest logical fare: the cheapest direct flight within 2 hours "
                    "of your preferred departure time.",
                    "One checked bag is reimbursed on trips of three nights or more.",
                    "Seat selection fees are reimbursed up to 25 EUR per flight.",
                    "Airport lounge passes are not reimbursed.",
                )
            ),
            Heading("11. Changes and cancellations"),
            Para(
                "Contact the Travel Desk for any change or cancellation, even outside office "
                "hours; the emergency travel line in TripNest is available 24 hours a day. Credits "
                "from unused tickets belong to Acme and are used for your next business trip. "
                "If a trip is cancelled by Acme, any non-refundable personal costs you incurred "
                "as part of the trip are reimbursed."
            ),
            Heading("12. Sustainable travel"),
            Para(
                "Before you book, ask whether the meeting could happen by video call. For "
                "destinations less than 500 km away, take the train instead of flying when the "
                "rail journey takes less than 5 hours. The Travel Desk offsets the carbon "
                "emissions of every flight booked through TripNest, and each department "
                "receives a quarterly report of its travel emissions."
            ),
            Heading("13. Frequent flyer programmes"),
            Para(
                "You may join airline loyalty programmes and keep the miles you earn on business "
                "trips. Loyalty programmes must not influence your choice of airline or fare: "
                "the lowest logical fare rule always applies."
            ),
        ),
        # Page 4: expenses and reimbursement.
        (
            Heading("14. Meals while travelling"),
            Para(
                "When you travel on business, Acme pays for meals up to 60 EUR per day, covering "
                "breakfast, lunch, dinner, snacks, drinks and tips combined. If breakfast is "
                "included in your hotel rate, the daily limit is 45 EUR. There is no fixed daily "
                "allowance: we reimburse what you actually spend, up to the limit, against "
                "receipts. Alcohol is not reimbursed, except as part of client entertainment."
            ),
            Heading("15. Client entertainment"),
            Para(
                "Client entertainment is reimbursed up to 90 EUR per person, including the Acme "
                "employees present. Record the names and companies of all attendees and the "
                "business purpose in your claim. Entertainment of public officials always needs "
                "prior approval from the Compliance team."
            ),
            Heading("16. What is not reimbursed"),
            Bullets(
                (
                    "hotel minibar, films and other personal entertainment;",
                    "parking fines, speeding tickets and other penalties;",
                    "upgrades paid in cash, and airport lounge passes;",
                    "laundry, unless the trip lasts 5 nights or more;",
                    "lost or stolen personal property (claim this on the travel insurance).",
                )
            ),
            Heading("17. Submitting expense claims"),
            Para(
                "Submit all expense claims in SpendTrack, with receipts, within 30 days of the "
                "expense date. Take a photo of each receipt with the SpendTrack app; you do not "
                "need to keep the paper copy. Claims older than 90 days are rejected. If you have "
                "lost a receipt, you may submit a signed missing-receipt declaration instead, at "
                "most twice a year."
            ),
            Para(
                "Your line manager approves the claim in SpendTrack. Claims approved by the 20th "
                "of the month are paid with that month's payroll; later claims are paid the "
                "following month. Acme Visa corporate card transactions must be reconciled in "
                "SpendTrack by the 5th working day of the following month."
            ),
            Heading("18. Questions and exceptions"),
            Para(
                "Ask the Finance team at expenses@acme.example or in the #ask-finance Slack "
                "channel. Exceptions to this policy must be approved in writing by the Finance "
                "Director before the money is spent. Misuse of company money is treated as "
                "misconduct under the Code of Conduct."
            ),
        ),
    ),
)

SECURITY_POLICY = PdfDoc(
    filename="information-security-policy.pdf",
    title="Information Security Policy",
    subtitle="Version 5.0 - approved by the Chief Information Security Officer, October 2026",
    pages=(
        (
            Heading("1. Why this policy matters"),
            Para(
                "Acme Widgets Ltd. designs and sells connected widgets to thousands of customers. "
                "Their trust depends on how well every one of us protects company and customer "
                "information. This policy sets out the minimum rules for passwords, multi-factor "
                "authentication, phishing and device security. It applies to all employees and "
                "contractors and to every device that accesses Acme systems."
            ),
            Heading("2. Passwords and passphrases"),
            Bullets(
                (
                    "Passwords must be at least 14 characters long. We recommend a passphrase of "
                    "four or more random words, such as 'copper lantern orbit meadow'.",
                    "Never reuse your AcmeID password on any other system or website, and do not "
                    "reuse any of your last 10 AcmeID passwords.",
                    "Store all work passwords in Acme Vault, the company password manager. Do "
                    "not keep passwords in spreadsheets, notes or browser storage.",
                    "There is no forced periodic password change. Change your password "
                    "immediately if you think it may have been exposed.",
                    "Never share a password, not even with IT. IT staff will never ask for it.",
                )
            ),
            Heading("3. Multi-factor authentication (MFA)"),
            Para(
                "MFA is mandatory for every AcmeID account and for every external service that "
                "holds Acme data. Approved second factors are the Acme Authenticator app and "
                "FIDO2 hardware security keys. SMS codes are not accepted because they can be "
                "intercepted. Administrators of production systems must use a hardware security "
                "key; two keys are issued to each administrator, one to carry and one to keep at "
                "home."
            ),
            Para(
                "Only approve an MFA prompt that you started yourself. An unexpected prompt "
                "means someone may know your password: deny it, change your password and report "
                "it to the Security team."
            ),
            Heading("4. Phishing"),
            Para(
                "Phishing emails, chat messages and phone calls try to trick you into revealing "
                "passwords, paying fake invoices or opening malware. Warning signs include "
                "urgency, unexpected attachments, requests to change bank details and sender "
                "addresses that do not match the company."
            ),
            Bullets(
                (
                    "To report a phishing email, click the Report Phish button in Outlook, or "
                    "forward the email as an attachment to phishing@acme.example.",
                    "Do not click links, open attachments or reply before it has been checked.",
                    "If you already clicked a link or entered your password, report it at once; "
                    "Security Operations responds to reports within 30 minutes during business "
                    "hours. You will never be blamed for reporting.",
                    "Acme runs simulated phishing campaigns every month. If you click a "
                    "simulated phish, you are asked to complete a 10-minute refresher module.",
                )
            ),
        ),
        (
            Heading("5. Laptops and mobile devices"),
            Bullets(
                (
                    "Full-disk encryption is mandatory on every laptop: BitLocker on Windows and "
                    "FileVault on macOS. Recovery keys are stored centrally by IT.",
                    "Device management checks encryption every day. A laptop without encryption "
                    "loses access to AcmeID within 24 hours until the problem is fixed.",
                    "Screens lock automatically after 5 minutes of inactivity. Lock your screen "
                    "whenever you leave your laptop, even for a moment.",
                    "Install operating system and browser updates within 7 days of release; "
                    "critical updates are forced after 48 hours.",
                    "USB storage devices are blocked. Share files through approved cloud storage instead.",
                    "Work email and chat may be used on personal phones only through the managed "
                    "work profile, which IT can wipe remotely.",
                )
            ),
            Heading("6. Lost or stolen devices"),
            Para(
                "Report a lost or stolen laptop, phone or security key within 1 hour to "
                "security@acme.example or via the #security-incidents Slack channel. IT will lock "
                "and remotely wipe the device. Because every laptop is encrypted, a quick report "
                "usually means no data is lost. Thefts must also be reported to the police, and "
                "the police report number added to the incident ticket."
            ),
            Heading("7. Classifying information"),
            Table(
                header=("Class", "Examples", "Handling"),
                rows=(
                    ("Public", "Website, press releases", "No restrictions"),
                    ("Internal", "Handbook, org charts", "Acme staff only"),
                    ("Confidential", "Contracts, roadmaps", "Need to know; no external sharing"),
                    ("Restricted", "Payroll, customer payment data", "Approved systems only"),
                ),
            ),
            Heading("8. Security incidents"),
            Para(
                "A security incident is anything that might put Acme information at risk: a "
                "suspicious email you replied to, a document sent to the wrong person, a strange "
                "pop-up on your laptop or a tailgater at the office door. Report every incident "
                "to security@acme.example. Reporting early is always better than investigating "
                "yourself."
            ),
            Heading("9. Training and compliance"),
            Para(
                "Every employee completes the annual security awareness refresher by 31 October "
                "each year. Breaches of this policy may lead to loss of system access and to "
                "disciplinary action. Exceptions must be approved by the Chief Information "
                "Security Officer and are reviewed every six months."
            ),
        ),
    ),
)

CODE_OF_CONDUCT = PdfDoc(
    filename="code-of-conduct.pdf",
    title="Code of Conduct",
    subtitle="Acme Widgets Ltd. - approved by the Board of Directors, March 2026",
    pages=(
        (
            Heading("1. Our values"),
            Para(
                "Acme was founded in 2009 with a simple idea: make useful widgets, and treat "
                "people well while doing it. Our four values guide how we work: Curious (we keep "
                "learning), Candid (we say what we think, kindly), Careful (we protect our "
                "customers, our data and each other) and Kind (we assume good intent). This Code "
                "turns those values into practical rules. It applies to everyone who works for "
                "or represents Acme, including contractors and board members."
            ),
            Heading("2. Respect at work"),
            Para(
                "Acme does not tolerate harassment, bullying or discrimination of any kind, "
                "whether in the office, at company events, online or when travelling for work. "
                "Decisions about hiring, pay and promotion are based on skills and performance "
                "only, never on gender, age, race, religion, disability, sexual orientation or "
                "any other protected characteristic. Managers who receive a complaint must pass "
                "it to the People Team within two working days."
            ),
            Heading("3. Speaking up"),
            Para(
                "If you see something that seems wrong - fraud, safety risks, harassment, "
                "breaches of law or of this Code - please speak up. You can talk to your "
                "manager, your People Partner or the Legal team. If you prefer to stay "
                "anonymous, use Acme SpeakUp, the confidential ethics hotline run by an "
                "independent provider."
            ),
            Bullets(
                (
                    "Acme SpeakUp web form: speakup.acme.example (available 24/7, anonymous).",
                    "Email to the Ethics Committee: ethics@acme.example.",
                    "Every report is acknowledged within 7 days and investigated by people "
                    "who are not involved in the matter.",
                )
            ),
            Para(
                "Acme strictly prohibits retaliation against anyone who raises a concern in good "
                "faith, even if the concern turns out to be unfounded. Retaliation is itself a "
                "serious breach of this Code."
            ),
            Heading("4. Alcohol and company events"),
            Para(
                "Company events should be enjoyable for everyone. Drink responsibly, make sure "
                "non-alcoholic options are always available and never pressure anyone to drink. "
                "Working under the influence of alcohol or drugs is not allowed."
            ),
        ),
        (
            Heading("5. Gifts and hospitality"),
            Bullets(
                (
                    "You may accept gifts with a value of up to 50 EUR from a customer or "
                    "supplier, for example a bottle of wine or a branded notebook.",
                    "Gifts worth more than 50 EUR must be politely declined, or recorded in the "
                    "Gifts Register on Compass within 5 working days and approved by the "
                    "Compliance team.",
                    "Never accept or give cash, gift cards or vouchers, whatever the amount.",
                    "Never offer gifts or hospitality to public officials without written "
                    "approval from Compliance.",
                    "Do not accept gifts or invitations from a supplier during a tender.",
                )
            ),
            Heading("6. Conflicts of interest"),
            Para(
                "A conflict of interest arises when your personal interests could influence, or "
                "appear to influence, your decisions at Acme: for example a close relative "
                "working for a supplier, or a shareholding in a competitor. Declare any actual "
                "or potential conflict in the Declarations section of PeopleHub within 14 days "
                "of becoming aware of it. Declaring a conflict is not wrong; hiding one is."
            ),
            Heading("7. Outside work"),
            Para(
                "Second jobs, paid advisory roles and board positions need written approval from "
                "your manager and the People Team before you start. Approval is normally given "
                "if the work does not compete with Acme, does not use Acme time or equipment and "
                "does not affect your performance. Unpaid community and charity work does not "
                "need approval."
            ),
            Heading("8. Anti-bribery and fair competition"),
            Para(
                "We never offer, pay or accept bribes or facilitation payments, directly or "
                "through agents. We compete fairly: never discuss prices, bids or market "
                "sharing with competitors. If a competitor raises these topics at a trade event, "
                "leave the conversation and tell the Legal team."
            ),
            Heading("9. Social media and public statements"),
            Para(
                "Only the Communications team speaks for Acme in public. You are welcome to share "
                "our public news, but make clear that personal views are your own and never "
                "share confidential information, customer names or product plans."
            ),
            Heading("10. Breaches of the Code"),
            Para(
                "Breaches of this Code may lead to disciplinary action up to and including "
                "dismissal. Every employee confirms once a year in PeopleHub that they have read "
                "and understood the Code."
            ),
        ),
    ),
)

PDF_DOCS: tuple[PdfDoc, ...] = (TRAVEL_POLICY, SECURITY_POLICY, CODE_OF_CONDUCT)


# --------------------------------------------------------------------------------------------
# DOCX content
# --------------------------------------------------------------------------------------------

BENEFITS = DocxDoc(
    filename="benefits-overview.docx",
    title="Employee Benefits Overview",
    subtitle="People Team - benefits year 2027",
    blocks=(
        Para(
            "This document summarises the benefits that Acme Widgets Ltd. offers to permanent "
            "employees in Ireland. Full terms are in the plan documents on Compass. Most "
            "benefits start on your first day; where a waiting period applies it is stated "
            "below. You can see and change your choices at any time in PeopleHub under "
            "Benefits."
        ),
        Heading("Health insurance"),
        Para(
            "Acme provides private health insurance through BrightCare Health on the BrightCare "
            "Plus plan. Acme pays 100% of the premium for employees and 50% of the premium for "
            "partners and children. Join within your first 60 days and you are accepted "
            "without any medical questions; after that, the insurer may ask about pre-existing "
            "conditions."
        ),
        Bullets(
            (
                "Dental care is covered up to 800 EUR per year per person.",
                "Eye tests and glasses or contact lenses are covered up to 200 EUR every two years.",
                "Virtual GP appointments are available 24/7 in the BrightCare app, free of charge.",
            )
        ),
        Heading("Pension"),
        Para(
            "The Acme pension plan is run by Harbourline Pensions. You are enrolled "
            "automatically after your first month at an employee contribution of 3% of base "
            "salary, and you can change this at any time. Acme matches your contributions up "
            "to 5% of your base salary: if you contribute 5% or more, Acme adds 5%. Employer "
            "contributions belong to you from day one; there is no vesting period. You can "
            "choose between three investment funds or leave your savings in the default "
            "lifestyle fund."
        ),
        Heading("Learning and development"),
        Para(
            "Every employee has a personal learning budget of 1,500 EUR per year, which can be "
            "spent on courses, certifications, conferences, language lessons and books that "
            "are relevant to your current or future role at Acme. On top of the budget you get "
            "3 paid learning days per year to attend courses or study."
        ),
        Bullets(
            (
                "Request learning spend in PeopleHub under the Learning tab; your manager approves it.",
                "The learning budget does not carry over into the next year.",
                "For a single course costing more than 1,000 EUR, you repay the cost pro rata "
                "if you leave Acme within 12 months of completing it.",
            )
        ),
        Heading("Wellbeing"),
        Bullets(
            (
                "MindWell Employee Assistance Programme: free, confidential support 24/7 by "
                "phone or chat, including up to 6 free counselling sessions per issue, for you "
                "and your household.",
                "Gym subsidy: Acme pays up to 40 EUR per month towards a gym, pool or sports "
                "club membership. Claim it monthly in SpendTrack.",
                "Cycle to work scheme: buy a bike and safety equipment worth up to 1,250 EUR "
                "through salary sacrifice, repaid over 12 months from your gross salary.",
            )
        ),
        Heading("Insurance and protection"),
        Para(
            "Life assurance pays 4 times your annual base salary to your nominated "
            "beneficiaries. Income protection pays 75% of your salary if you are unable to work "
            "because of long-term illness, starting after 26 weeks of absence and continuing "
            "until you recover or reach retirement age. Both are provided at no cost to you."
        ),
        Heading("Other benefits"),
        Bullets(
            (
                "Employee referral bonus of 2,000 EUR for every referred candidate who is hired "
                "and passes probation.",
                "Employee discount of 30% on all Acme widgets, up to 5 products per year.",
                "Annual health check at BrightCare clinics for employees over 40.",
            )
        ),
        Heading("Benefits at a glance"),
        Table(
            header=("Benefit", "Provider", "What Acme pays"),
            rows=(
                ("Health insurance", "BrightCare Health", "100% employee, 50% family"),
                ("Pension", "Harbourline Pensions", "Matches up to 5% of base salary"),
                ("Learning budget", "PeopleHub Learning", "1,500 EUR per year + 3 days"),
                ("Employee assistance", "MindWell", "Free, 6 sessions per issue"),
                ("Gym subsidy", "Any gym or club", "Up to 40 EUR per month"),
                ("Life assurance", "Harbourline Life", "4 x base salary"),
            ),
        ),
        Para("Questions about benefits: benefits@acme.example."),
    ),
)

ONBOARDING = DocxDoc(
    filename="onboarding-first-week.docx",
    title="Your First Week at Acme",
    subtitle="Onboarding guide for new joiners - Dublin office",
    blocks=(
        Para(
            "Welcome to Acme Widgets Ltd.! We are glad you are here. This guide tells you what "
            "happens in your first week, who you will meet and what you need to do. Your "
            "manager and your onboarding buddy will help you along the way, so do not worry "
            "about remembering everything at once."
        ),
        Heading("Before your first day"),
        Bullets(
            (
                "Sign your contract and complete your personal details in PeopleHub. You will "
                "receive the invitation link by email about two weeks before you start.",
                "Bring your passport or national ID card for the right-to-work check, together "
                "with your bank details and your PPS number for payroll.",
                "Tell the People Team about any adjustments you need at work, for example "
                "accessible parking or a special chair.",
            )
        ),
        Heading("Monday: welcome day"),
        Para(
            "On your first day, arrive at 09:30 at the reception of Harbour House, 12 Quay "
            "Street, on the ground floor, and ask for the People Team. Please do not come "
            "earlier, as the team prepares your welcome pack in the morning."
        ),
        Bullets(
            (
                "09:45 Welcome breakfast with the other new joiners of the week.",
                "10:30 Photo for your badge, building tour and fire safety briefing.",
                "11:00 Collect your laptop at the IT Bar and set up your AcmeID account.",
                "12:30 Lunch in The Galley with your onboarding buddy, paid by Acme.",
                "14:00 Meet your manager and agree your goals for the week.",
            )
        ),
        Heading("Your onboarding buddy"),
        Para(
            "Every new joiner is paired with an onboarding buddy from a different team for the "
            "first 3 months. Your buddy is your go-to person for the questions you might not "
            "want to ask your manager: where things are, how meetings work, who to ask about "
            "what. Buddies meet you at least once a week, and Acme pays for a coffee at each "
            "meeting."
        ),
        Heading("Tuesday: tools and security"),
        Para(
            "Tuesday is for getting your tools working: Slack, email, calendar, PeopleHub, "
            "SpendTrack and the systems your team uses. You must complete the Security Basics "
            "e-learning course within your first 5 working days. It takes about 45 minutes and "
            "covers passwords, phishing and handling customer data. Access to customer systems "
            "is only granted once the course is complete."
        ),
        Heading("Wednesday: your team"),
        Para(
            "Spend the day with your team. Most teams schedule short one-to-one introductions "
            "with each colleague and a walkthrough of current projects. Engineers also receive "
            "access to the code repositories and a starter ticket."
        ),
        Heading("Thursday: Acme 101"),
        Para(
            "Every Thursday at 14:00, new joiners attend Acme 101 with our CEO, Maria Okafor, in "
            "the event space on the 2nd floor. Maria explains the history of Acme, our strategy "
            "and how we make money, and answers your questions. It is also a good opportunity "
            "to meet new joiners from other departments."
        ),
        Heading("Friday: first-week check-in"),
        Para(
            "At the end of your first week you have a check-in with your manager to talk about "
            "how the week went. Together you agree your 30-60-90 day plan, which sets out what "
            "you will learn and deliver in your first three months. Many teams end the week "
            "with a team lunch to welcome you."
        ),
        Heading("Week one at a glance"),
        Table(
            header=("Day", "Main activity", "Where"),
            rows=(
                ("Monday", "Welcome breakfast, badge, laptop", "Reception and IT Bar"),
                ("Tuesday", "Tools set-up, Security Basics", "Your desk"),
                ("Wednesday", "Team introductions", "Your team area"),
                ("Thursday", "Acme 101 with the CEO at 14:00", "2nd floor event space"),
                ("Friday", "Check-in and 30-60-90 day plan", "With your manager"),
            ),
        ),
        Heading("Probation"),
        Para(
            "Your probation period is 6 months. You have a probation review with your manager "
            "after 3 months and again at the end of month 6. If everything is on track, your "
            "employment is confirmed in writing by the People Team."
        ),
        Para("Questions before or during your first week: onboarding@acme.example."),
    ),
)

REMOTE_WORK = DocxDoc(
    filename="remote-work-policy.docx",
    title="Remote and Hybrid Work Policy",
    subtitle="People Team - effective 1 September 2026",
    blocks=(
        Para(
            "Acme Widgets Ltd. is a hybrid company. We believe that time together in the office "
            "builds trust and helps us learn from each other, and that focused work is often "
            "easier at home. This policy explains how hybrid working works at Acme and what we "
            "expect from each other."
        ),
        Heading("How many days can I work remotely?"),
        Para(
            "Employees may work remotely up to 3 days per week, which means at least 2 days per "
            "week in the office. Each team agrees its own anchor days, when everyone in the team "
            "is in the office; most teams use Tuesday and Thursday. Managers may ask you to come "
            "in on other days for workshops, customer visits or onboarding new colleagues."
        ),
        Heading("Core hours"),
        Para(
            "Core hours are 10:00 to 16:00 Irish time, Monday to Friday. During core hours you "
            "should be reachable on Slack and available for meetings, wherever you work. Outside "
            "core hours you may organise your time flexibly, as long as you work your "
            "contracted hours and your team knows when to find you. Show your working location "
            "in your calendar."
        ),
        Heading("Setting up your home office"),
        Bullets(
            (
                "Home office allowance: a one-off payment of up to 300 EUR for equipment such "
                "as a desk chair, desk, monitor or headset. Claim it in SpendTrack within your "
                "first 6 months, with receipts.",
                "Internet allowance: 30 EUR per month, paid automatically through payroll.",
                "Monitors, keyboards and docking stations can also be borrowed from the IT Bar "
                "free of charge.",
                "Complete the display screen equipment (DSE) self-assessment in PeopleHub "
                "within your first month of working from home.",
            )
        ),
        Heading("Working from abroad"),
        Para(
            "You may work from another country for up to 20 working days per calendar year, "
            "for example to extend a visit to family. Submit a Work Abroad request in PeopleHub "
            "at least 4 weeks before you travel, so that the People Team can check tax, "
            "social security and immigration rules. Working from abroad is not possible from "
            "countries on the restricted list on Compass, and you must be able to keep at "
            "least four hours of overlap with Irish core hours."
        ),
        Heading("Fully remote contracts"),
        Para(
            "Fully remote roles are the exception. They need the approval of the relevant "
            "Vice President and the People Team, and are usually limited to roles where the "
            "team is already distributed. Fully remote employees still join the office for the "
            "twice-yearly all-hands weeks, with travel paid under the Travel and Expenses "
            "Policy."
        ),
        Heading("Working safely and securely from home"),
        Bullets(
            (
                "Always use the company VPN when working outside the office, and never use "
                "public Wi-Fi without it.",
                "Use a privacy screen filter when working in cafes, trains or other public "
                "places, and do not take confidential calls where others can listen.",
                "Lock your laptop when you step away, even at home.",
                "Report any accident while working from home to your manager, as you would in the office.",
            )
        ),
        Heading("Costs"),
        Para(
            "Travel between your home and the office is not reimbursed, on any day. Additional "
            "household costs such as heating and electricity are covered by the monthly "
            "internet allowance and are not claimed separately."
        ),
        Heading("Changes to your pattern"),
        Para(
            "If your personal circumstances change, for example because of caring "
            "responsibilities or health reasons, talk to your manager about a different "
            "pattern. Formal flexible working requests are made in PeopleHub and answered "
            "within 4 weeks."
        ),
        Para("Questions: your manager, or #ask-people on Slack."),
    ),
)

DOCX_DOCS: tuple[DocxDoc, ...] = (BENEFITS, ONBOARDING, REMOTE_WORK)


# --------------------------------------------------------------------------------------------
# PDF rendering
# --------------------------------------------------------------------------------------------


class HandbookPdf(FPDF):
    """FPDF with an Acme page header and a 'Page X of Y' footer."""

    def __init__(self, doc_title: str) -> None:
        """Create an A4 portrait document for ``doc_title``."""
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc_title = doc_title
        self.set_margins(left=20, top=20, right=20)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        """Draw the running header on every page."""
        self.set_font("Helvetica", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{COMPANY} | {self.doc_title}", align="L")
        self.cell(0, 5, "INTERNAL", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(6)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        """Draw the page number at the bottom of every page."""
        self.set_y(-14)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _pdf_block(pdf: HandbookPdf, block: Block) -> None:
    """Render one content block into ``pdf`` at the current position."""
    width = pdf.w - pdf.l_margin - pdf.r_margin
    if isinstance(block, Heading):
        pdf.ln(2)
        pdf.set_font("Helvetica", style="B", size=13 if block.level == 1 else 11)
        pdf.multi_cell(width, 7, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    elif isinstance(block, Para):
        pdf.set_font("Helvetica", size=10.5)
        pdf.multi_cell(width, 5.2, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2.5)
    elif isinstance(block, Bullets):
        pdf.set_font("Helvetica", size=10.5)
        for number, item in enumerate(block.items, start=1):
            marker = f"{number}." if block.numbered else "-"
            pdf.cell(6, 5.2, marker)
            pdf.multi_cell(width - 6, 5.2, item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        pdf.ln(1.5)
    else:
        pdf.set_font("Helvetica", size=10)
        with pdf.table(width=width, line_height=6, first_row_as_headings=True) as table:
            for row in (block.header, *block.rows):
                cells = table.row()
                for text in row:
                    cells.cell(text)
        pdf.ln(3)


def render_pdf(doc: PdfDoc, out_dir: Path) -> Path:
    """Write ``doc`` as a PDF into ``out_dir`` and return its path.

    Raises:
        RuntimeError: if a page overflowed, so that facts would land on the wrong page.

    """
    pdf = HandbookPdf(doc.title)
    pdf.set_title(doc.title)
    pdf.set_author(f"{COMPANY} (fictional sample)")
    pdf.set_subject(doc.subtitle)
    pdf.set_creator("scripts/make_samples.py")
    pdf.set_creation_date(FIXED_DATE)
    for index, page in enumerate(doc.pages):
        pdf.add_page()
        if index == 0:
            pdf.set_font("Helvetica", style="B", size=18)
            pdf.cell(0, 10, doc.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font("Helvetica", style="I", size=9.5)
            pdf.cell(0, 6, doc.subtitle, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(3)
        for block in page:
            _pdf_block(pdf, block)
        if pdf.page_no() != index + 1:
            raise RuntimeError(f"{doc.filename}: content of page {index + 1} overflowed")
    path = out_dir / doc.filename
    pdf.output(str(path))
    return path


# --------------------------------------------------------------------------------------------
# DOCX rendering
# --------------------------------------------------------------------------------------------


def _docx_block(document: DocxDocument, block: Block) -> None:
    """Append one content block to ``document``."""
    if isinstance(block, Heading):
        document.add_heading(block.text, level=block.level)
    elif isinstance(block, Para):
        document.add_paragraph(block.text)
    elif isinstance(block, Bullets):
        style = "List Number" if block.numbered else "List Bullet"
        for item in block.items:
            document.add_paragraph(item, style=style)
    else:
        table = document.add_table(rows=1, cols=len(block.header))
        table.style = "Light Grid Accent 1"
        for cell, text in zip(table.rows[0].cells, block.header, strict=True):
            cell.text = text
        for row in block.rows:
            for cell, text in zip(table.add_row().cells, row, strict=True):
                cell.text = text
        document.add_paragraph()


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed timestamps so that output is reproducible."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return buffer.getvalue()


def render_docx(doc: DocxDoc, out_dir: Path) -> Path:
    """Write ``doc`` as a Word document into ``out_dir`` and return its path."""
    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)

    props = document.core_properties
    props.title = doc.title
    props.subject = doc.subtitle
    props.author = f"{COMPANY} People Team (fictional sample)"
    props.last_modified_by = "scripts/make_samples.py"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    section = document.sections[0]
    section.header.paragraphs[0].text = f"{COMPANY} | {doc.title} | INTERNAL"
    section.footer.paragraphs[0].text = "Fictional sample document generated for Needle."

    document.add_heading(doc.title, level=0)
    subtitle = document.add_paragraph()
    subtitle.add_run(doc.subtitle).italic = True
    for block in doc.blocks:
        _docx_block(document, block)

    buffer = io.BytesIO()
    document.save(buffer)
    path = out_dir / doc.filename
    path.write_bytes(_normalise_zip(buffer.getvalue()))
    return path


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate(out_dir: Path) -> list[Path]:
    """Generate every PDF and DOCX sample into ``out_dir`` and return the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [render_pdf(doc, out_dir) for doc in PDF_DOCS]
    written += [render_docx(doc, out_dir) for doc in DOCX_DOCS]
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Parse command-line arguments and generate the samples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help=f"output folder (default: {DEFAULT_OUT_DIR.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)
    for path in generate(args.out_dir):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
